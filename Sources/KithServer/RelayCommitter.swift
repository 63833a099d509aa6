import KithStore
import NIOConcurrencyHelpers
import NIOPosix

/// Commits relayed payloads in groups, on a thread of its own: whatever sessions hand in while a
/// group is being committed goes into the next group, so under load many relays share one
/// transaction (one fsync) instead of each paying its own, and a commit never blocks the event
/// loop, the task pool or the `Presence` actor. Nothing is acknowledged before its commit: a
/// caller's `commit` returns after the group holding its item is on disk and `Presence` has
/// queued it for the receiver, so an acknowledgement always follows both.
///
/// Groups reach `Presence` one after another in commit order, so a receiver's relay ids arrive
/// there in increasing order (`RelayBacklog` relies on it). This is the store's "commit a batch,
/// then a feed of what was committed, by sequence number (the relay id)" that a shared store of
/// several instances implements too.
final class RelayCommitter: Sendable {
    /// At most this many items share a transaction; more wait for the next group.
    static let maxGroup = 512

    private struct Pending {
        var waiting: [(item: RelayItem, done: CheckedContinuation<RelayOutcome, any Error>)] = []
        var committing = false
    }

    private let store: any ServerStore
    private let quota: RelayQuota?
    private let now: @Sendable () -> UInt64
    /// Called with each committed group's stored records, in commit order, before anyone is answered.
    private let committed: @Sendable ([RelayRecord]) async -> Void
    private let thread = NIOThreadPool(numberOfThreads: 1)
    private let pending = NIOLockedValueBox(Pending())

    init(store: any ServerStore, quota: RelayQuota?, now: @escaping @Sendable () -> UInt64,
         committed: @escaping @Sendable ([RelayRecord]) async -> Void) {
        self.store = store
        self.quota = quota
        self.now = now
        self.committed = committed
        thread.start()
    }

    /// Commits `item` with the group being formed; returns when it is durable and queued for its
    /// receiver (`stored`), or refused. Throws when its group could not be committed.
    func commit(_ item: RelayItem) async throws -> RelayOutcome {
        try await withCheckedThrowingContinuation { done in
            let start = pending.withLockedValue { pending -> Bool in
                pending.waiting.append((item, done))
                guard !pending.committing else { return false }
                pending.committing = true
                return true
            }
            if start { Task { await self.commitGroups() } }
        }
    }

    /// The one committer: takes what waits, commits it, hands it on, answers; until nothing waits.
    private func commitGroups() async {
        while true {
            let group = pending.withLockedValue { pending in
                let group = Array(pending.waiting.prefix(Self.maxGroup))
                pending.waiting.removeFirst(group.count)
                if group.isEmpty { pending.committing = false }
                return group
            }
            guard !group.isEmpty else { return }
            let items = group.map(\.item)
            let store = store, quota = quota, now = now()
            do {
                let outcomes = try await thread.runIfActive { try store.enqueueRelays(items, quota: quota, now: now) }
                guard outcomes.count == items.count else { throw StoreError.conflict("the store answered \(outcomes.count) of \(items.count)") }
                let records = zip(items, outcomes).compactMap { item, outcome -> RelayRecord? in
                    if case .stored(let id) = outcome { RelayRecord(id: id, item) } else { nil }
                }
                if !records.isEmpty { await committed(records) }
                for (waiter, outcome) in zip(group, outcomes) { waiter.done.resume(returning: outcome) }
            } catch {
                for waiter in group { waiter.done.resume(throwing: error) }
            }
        }
    }

    func shutdown() async {
        try? await thread.shutdownGracefully()
    }
}
