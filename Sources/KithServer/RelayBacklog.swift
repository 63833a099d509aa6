/// Which relayed payloads of one online device sit in its session's send queue and which are
/// only in the store (spec §Relay): the relay's part of a session, apart from who is online.
///
/// A session starts with everything in the store (what was queued while the device was away).
/// A payload committed while the session is up goes straight into the queue — unless the queue
/// is full (a slow receiver), after which new payloads stay in the store and are read back, in
/// order, when the queue drains. Pure bookkeeping: `SessionOutbox` does the reads and the writes.
struct RelayBacklog: Sendable, Equatable {
    /// Beyond this many queued envelopes a receiver is slow: new payloads wait in the store.
    static let queueLimit = 1024

    /// The highest relay id in (or already written from) the queue.
    private(set) var queuedUpTo: Int64 = 0
    /// Payloads after `queuedUpTo` are only in the store.
    private(set) var inStore = true

    /// A payload just committed with `id`, while `queued` envelopes wait in the session's queue:
    /// true to append it there, false to leave it in the store for a later `reload`.
    /// A payload the session read from the store already (committed before a `reload` and handed
    /// on after it) is not queued twice.
    mutating func admit(id: Int64, queued: Int) -> Bool {
        guard !inStore, id > queuedUpTo else { return false }
        guard queued < Self.queueLimit else {
            inStore = true
            return false
        }
        queuedUpTo = id
        return true
    }

    /// What to read from the store now: payloads after `after`, at most `limit`; nil when
    /// nothing waits there or the queue has no room.
    func reload(queued: Int) -> (after: Int64, limit: Int)? {
        let room = Self.queueLimit - queued
        guard inStore, room > 0 else { return nil }
        return (queuedUpTo, room)
    }

    /// Payloads may have been committed to the store by someone else (another server instance on
    /// a shared store): the next `reload` reads after `queuedUpTo`, and nothing is queued directly
    /// until the store has been read to its end, so none overtakes one committed before it.
    mutating func storeHasMore() {
        inStore = true
    }

    /// The store gave `ids` (in order) for a `reload` of at most `limit`: a full page means more may wait.
    mutating func reloaded(_ ids: [Int64], limit: Int) {
        if let last = ids.last { queuedUpTo = last }
        inStore = ids.count == limit
    }
}
