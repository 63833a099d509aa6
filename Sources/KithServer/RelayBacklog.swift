/// Which relayed payloads of one online device sit in its session's send queue and which are
/// only in the store (spec §Relay): the relay's part of a session, apart from who is online.
///
/// A session starts with everything in the store (what was queued while the device was away).
/// A payload committed while the session is up goes straight into the queue — unless the queue
/// is full (a slow receiver), after which new payloads stay in the store and are read back, in
/// order, when the queue drains. A read may take a while (a shared store is a round trip away),
/// so one is in flight at a time, and what is committed while it is keeps the next read coming.
/// Pure bookkeeping: `SessionOutbox` does the reads and the writes.
struct RelayBacklog: Sendable, Equatable {
    /// Beyond this many queued envelopes a receiver is slow: new payloads wait in the store.
    static let queueLimit = 1024

    /// The highest relay id in (or already written from) the queue.
    private(set) var queuedUpTo: Int64 = 0
    /// Payloads after `queuedUpTo` are only in the store.
    private(set) var inStore = true
    /// A read of the store is under way.
    private(set) var reading = false
    /// Payloads were committed while the read was under way, which it may not have seen.
    private var readAgain = false

    /// A payload just committed with `id`, while `queued` envelopes wait in the session's queue:
    /// true to append it there, false to leave it in the store for a later `reload`.
    /// A payload the session read from the store already (committed before a `reload` and handed
    /// on after it) is not queued twice.
    mutating func admit(id: Int64, queued: Int) -> Bool {
        guard !reading else {
            readAgain = true
            return false
        }
        guard !inStore, id > queuedUpTo else { return false }
        guard queued < Self.queueLimit else {
            inStore = true
            return false
        }
        queuedUpTo = id
        return true
    }

    /// Payloads committed with `ids` (increasing), whose receiver's queue held nothing above
    /// `after` before them (`RelayNotice`): those to append to the queue now. When the queue
    /// does not reach `after` (payloads committed elsewhere in between have not come), or
    /// anything waits in the store, none: they are read with the rest.
    mutating func follow(after: Int64, ids: [Int64], queued: Int) -> [Int64] {
        guard !reading, !inStore, after <= queuedUpTo else {
            storeHasMore()
            return []
        }
        return ids.enumerated().filter { index, id in admit(id: id, queued: queued + index) }.map(\.element)
    }

    /// What to read from the store now, marking the read as under way: payloads after `after`,
    /// at most `limit`; nil when nothing waits there, the queue has no room, or a read is under way.
    mutating func reload(queued: Int) -> (after: Int64, limit: Int)? {
        let room = Self.queueLimit - queued
        guard inStore, !reading, room > 0 else { return nil }
        reading = true
        return (queuedUpTo, room)
    }

    /// Payloads may have been committed to the store by someone else (another server instance on
    /// a shared store): the next `reload` reads after `queuedUpTo`, and nothing is queued directly
    /// until the store has been read to its end, so none overtakes one committed before it.
    mutating func storeHasMore() {
        inStore = true
        if reading { readAgain = true }
    }

    /// The store gave `ids` (in order) for a `reload` of at most `limit`: a full page means more
    /// may wait, and so do payloads committed while it was read.
    mutating func reloaded(_ ids: [Int64], limit: Int) {
        if let last = ids.last { queuedUpTo = last }
        inStore = ids.count == limit || readAgain
        reading = false
        readAgain = false
    }

    /// The read failed: the store is read again at the next occasion (a commit, a drained queue).
    mutating func readFailed() {
        reading = false
        readAgain = false
        inStore = true
    }
}
