import KithAPI
import NIOConcurrencyHelpers

/// The local API's event stream: each subscriber gets every event published after it
/// subscribed, of every account (each event names its account), in the order they were
/// published. Publishing is a synchronous hand-over under a lock, not a task on the agent
/// actor: an event leaves in the same turn as the commit that caused it, and two events of one
/// account never overtake each other.
final class EventHub: Sendable {
    private let subscribers = NIOLockedValueBox((next: UInt64(0), streams: [UInt64: AsyncStream<AgentEvent>.Continuation]()))

    func subscribe() -> AsyncStream<AgentEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: AgentEvent.self, bufferingPolicy: .bufferingNewest(10_000))
        let id = subscribers.withLockedValue { state in
            defer { state.next += 1 }
            state.streams[state.next] = continuation
            return state.next
        }
        continuation.onTermination = { [weak self] _ in self?.subscribers.withLockedValue { _ = $0.streams.removeValue(forKey: id) } }
        return stream
    }

    var subscriberCount: Int { subscribers.withLockedValue { $0.streams.count } }

    func publish(_ event: AgentEvent) {
        // Yielding under the lock keeps the order of events from different threads.
        subscribers.withLockedValue { state in
            for continuation in state.streams.values { continuation.yield(event) }
        }
    }
}

extension Agent {
    public nonisolated func subscribe() -> AsyncStream<AgentEvent> { events.subscribe() }
}
