import KithAPI

/// The local API's event stream: each subscriber gets every event published after it subscribed.
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

    /// Sends `event`, marked with the account it belongs to, to every subscriber.
    func publish(_ event: AgentEvent) {
        var event = event
        event.account = event.account ?? rosterBook?.account
        for continuation in subscribers.values { continuation.yield(event) }
    }
}
