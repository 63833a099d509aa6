import KithAPI

/// The local API's event stream: each subscriber gets every event published after it
/// subscribed, of every account (each event names its account).
extension Agent {
    public func subscribe() -> AsyncStream<AgentEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: AgentEvent.self, bufferingPolicy: .bufferingNewest(10_000))
        let id = nextSubscriber
        nextSubscriber += 1
        subscribers[id] = continuation
        continuation.onTermination = { _ in Task { await self.unsubscribe(id) } }
        return stream
    }

    private func unsubscribe(_ id: UInt64) {
        subscribers[id] = nil
    }

    func publish(_ event: AgentEvent) {
        for continuation in subscribers.values { continuation.yield(event) }
    }
}
