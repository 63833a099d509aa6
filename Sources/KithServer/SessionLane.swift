import KithStore
import KithWire

/// Which of a session's requests its channel's event loop answers itself (`SessionLoopHandler`)
/// and which go to the session's task (`ServerSession`), so that no request overtakes one that
/// came before it: the loop takes a request only when the task has nothing in hand.
///
/// The loop takes the requests of a logged-in device that are most of a busy server's traffic
/// and need no actor: keepalive pings, relayed payloads and their acknowledgements. Everything
/// else, and everything while the task is busy, goes to the task, in arrival order.
struct SessionLane: Sendable {
    enum Route: Equatable { case loop, task }

    /// Requests handed to the task that it has not finished.
    private(set) var inTask = 0
    /// The session's device as the task last reported it: nil before a login or resume, and
    /// after a logout.
    private(set) var device: DeviceRecord?

    static let loopTypes: Set<MessageType> = [.ping, .relaySend, .relayAck]

    /// Where a request of `type` that just arrived is handled.
    mutating func route(_ type: MessageType) -> Route {
        if inTask == 0, device != nil, Self.loopTypes.contains(type) { return .loop }
        inTask += 1
        return .task
    }

    /// The loop took a request it then found it does not handle (a relay to a linked account's
    /// device, which needs `Presence`): it goes to the task after all.
    mutating func handOn() {
        inTask += 1
    }

    /// The task finished a request; `device` is its session's device now.
    mutating func finished(device: DeviceRecord?) {
        inTask -= 1
        self.device = device
    }
}
