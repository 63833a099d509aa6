import KithCore
import KithWire

/// Which direct deliveries wait for their Ack, and the request ids on direct sessions: the
/// acknowledged part of direct messages (spec §Direct messages), apart from the paths that carry
/// them. A note or notice counts as delivered only when the sibling's Ack says it committed it.
struct DirectDeliveries {
    /// How long a direct delivery waits for its Ack before it is resent, and how often.
    static let ackTimeout: UInt64 = 300
    static let attempts = 3

    private var nextRequestID: UInt32 = 1
    private var waiters: [UInt32: (peer: String, continuation: CheckedContinuation<Bool, Never>, cancelTimeout: () -> Void)] = [:]

    /// The next request id (never 0, wrapping).
    mutating func nextID() -> UInt32 {
        defer { nextRequestID = nextRequestID == .max ? 1 : nextRequestID + 1 }
        return nextRequestID
    }

    func isWaiting(_ requestID: UInt32, for peer: String) -> Bool { waiters[requestID]?.peer == peer }

    /// Waits for `peer`'s Ack of `requestID`; `cancelTimeout` is called when the wait ends, so an
    /// answered delivery leaves no timer behind.
    mutating func wait(_ requestID: UInt32, for peer: String, _ continuation: CheckedContinuation<Bool, Never>,
                       cancelTimeout: @escaping () -> Void = {}) {
        waiters[requestID] = (peer, continuation, cancelTimeout)
    }

    /// Ends the wait for `requestID` (from `peer`'s Ack, or a timeout when `peer` is nil).
    mutating func resume(_ requestID: UInt32, with value: Bool, from peer: String? = nil) {
        guard let waiter = waiters[requestID], peer == nil || waiter.peer == peer else { return }
        waiters[requestID] = nil
        waiter.cancelTimeout()
        waiter.continuation.resume(returning: value)
    }
}

extension DirectPaths {
    /// Sends a note or notice directly and waits for the sibling's Ack (it has committed it);
    /// false when there is no direct path, it does not fit a datagram, or no Ack came. On false
    /// the caller sends it through the relay; a late direct copy is harmless (both are idempotent).
    func deliver(_ message: Message, to id: String) async -> Bool {
        guard peers[id]?.machine.isDirect == true else { return false }
        let requestID = deliveries.nextID()
        for _ in 0..<DirectDeliveries.attempts {
            guard send(Envelope(requestID: requestID, message), to: id) else { return false }
            let acked = await withCheckedContinuation { continuation in
                // A timer on the socket's event loop, cancelled by the Ack: no task or thread
                // wakes for a delivery that was answered in time. (NIO finds a cancelled timer by
                // scanning the loop's timers; an agent's loop holds a handful.)
                let timeout = socketEventLoop?.scheduleTask(in: .milliseconds(Int64(DirectDeliveries.ackTimeout))) {
                    Task { await self.resume(requestID, with: false) }
                }
                deliveries.wait(requestID, for: id, continuation, cancelTimeout: { timeout?.cancel() })
                if timeout == nil { resume(requestID, with: false) }
            }
            if acked { return true }
        }
        if var peer = peers[id] {
            let actions = peer.machine.deliveryFailed(now: clock())
            peers[id] = peer
            perform(actions, for: id)
        }
        return false
    }

    func resume(_ requestID: UInt32, with value: Bool, from peer: String? = nil) {
        deliveries.resume(requestID, with: value, from: peer)
    }
}
