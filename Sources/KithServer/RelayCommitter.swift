import KithStore
import Logging
import NIOConcurrencyHelpers
import NIOPosix

/// The one writer of relayed payloads: commits them in groups, on a thread of its own, together
/// with the deletion of the payloads receivers acknowledged. Whatever sessions hand in while a
/// group is being committed goes into the next group, so under load many relays and acks share
/// one transaction (one fsync) instead of each paying its own, and a commit never blocks an event
/// loop or the task pool. Nothing is acknowledged before its commit: a caller hears its outcome
/// after the group holding its item is on disk and has been handed to the receiver's outbox, so
/// an acknowledgement always follows both.
///
/// Groups are handed on one after another in commit order, so a receiver's relay ids reach its
/// outbox in increasing order (`RelayBacklog` relies on it). This is the store's "commit a batch,
/// then a feed of what was committed, by sequence number (the relay id)" that a shared store of
/// several instances implements too: there the feed is the store's (`RelayNotice`s in commit
/// order, this instance's commits among them), and `committed` has nothing to do.
final class RelayCommitter: Sendable {
    /// How a caller hears its item's outcome; called on the committer's side, so it must hop to
    /// where the caller lives (a continuation, an event loop's `execute`).
    typealias Done = @Sendable (Result<RelayOutcome, any Error>) -> Void

    /// At most this many items share a transaction; more wait for the next group.
    static let maxGroup = 512
    /// An acknowledgement waits at most this long for a group to ride with (a crash before its
    /// deletion commits means the payload is delivered again, which receivers handle: spec §Relay).
    static let ackDelay: Duration = .milliseconds(20)

    private struct Pending {
        var waiting: [(item: RelayItem, done: Done)] = []
        var acknowledged: [(id: Int64, to: String)] = []
        /// Callers of `deleteAcknowledged`, answered after the next commit.
        var flushes: [CheckedContinuation<Void, Never>] = []
        var committing = false
        var ackTimer = false

        /// True when the caller is to start the commit loop (none runs).
        mutating func begin() -> Bool {
            guard !committing else { return false }
            committing = true
            return true
        }
    }

    private let store: any ServerStore
    private let quota: RelayQuota?
    private let now: @Sendable () -> UInt64
    private let logger: Logger
    /// Called with each committed group's stored records, in commit order, before anyone is answered.
    private let committed: @Sendable ([RelayRecord]) -> Void
    private let thread = NIOThreadPool(numberOfThreads: 1)
    private let pending = NIOLockedValueBox(Pending())

    init(store: any ServerStore, quota: RelayQuota?, now: @escaping @Sendable () -> UInt64,
         logger: Logger = Logger(label: "kith.relay"), committed: @escaping @Sendable ([RelayRecord]) -> Void) {
        self.store = store
        self.quota = quota
        self.now = now
        self.logger = logger
        self.committed = committed
        thread.start()
    }

    /// Commits `item` with the group being formed; `done` hears `stored` once it is durable and
    /// queued for its receiver, `refused`, or the error its group could not be committed with.
    func commit(_ item: RelayItem, done: @escaping Done) {
        if pending.withLockedValue({ $0.waiting.append((item, done)); return $0.begin() }) { startCommitting() }
    }

    func commit(_ item: RelayItem) async throws -> RelayOutcome {
        try await withCheckedThrowingContinuation { continuation in commit(item) { continuation.resume(with: $0) } }
    }

    /// A receiver acknowledged payload `id`: it is deleted with the next group, within `ackDelay`.
    func acknowledged(id: Int64, to: String) {
        let (start, timer) = pending.withLockedValue { pending -> (Bool, Bool) in
            pending.acknowledged.append((id, to))
            if pending.acknowledged.count >= Self.maxGroup { return (pending.begin(), false) }
            guard !pending.committing, !pending.ackTimer else { return (false, false) }
            pending.ackTimer = true
            return (false, true)
        }
        if start { startCommitting() }
        if timer {
            Task {
                try? await Task.sleep(for: Self.ackDelay)
                if self.pending.withLockedValue({ $0.ackTimer = false; return $0.begin() }) { self.startCommitting() }
            }
        }
    }

    /// Returns when every payload acknowledged so far is deleted: before a session's first
    /// delivery, so a device that acknowledged something and reconnected at once does not get it again.
    func deleteAcknowledged() async {
        // Nothing acknowledged waits and no group is being committed (which may hold some): done.
        guard !pending.withLockedValue({ $0.acknowledged.isEmpty && !$0.committing }) else { return }
        await withCheckedContinuation { continuation in
            if pending.withLockedValue({ $0.flushes.append(continuation); return $0.begin() }) { startCommitting() }
        }
    }

    private func startCommitting() {
        thread.submit { _ in self.commitGroups() }
    }

    /// The one committer, on its thread: takes what waits, commits it, hands it on, answers;
    /// until nothing waits.
    private func commitGroups() {
        while true {
            let (group, acknowledged, flushes) = pending.withLockedValue { pending in
                let group = Array(pending.waiting.prefix(Self.maxGroup))
                pending.waiting.removeFirst(group.count)
                let taken = (group, pending.acknowledged, pending.flushes)
                pending.acknowledged = []
                pending.flushes = []
                if taken.0.isEmpty && taken.1.isEmpty && taken.2.isEmpty { pending.committing = false }
                return taken
            }
            guard !group.isEmpty || !acknowledged.isEmpty || !flushes.isEmpty else { return }
            let items = group.map(\.item)
            let time = now()
            do {
                let outcomes = try store.commitRelays(items, deleting: acknowledged, quota: quota, now: time)
                guard outcomes.count == items.count else { throw StoreError.conflict("the store answered \(outcomes.count) of \(items.count)") }
                let records = zip(items, outcomes).compactMap { item, outcome -> RelayRecord? in
                    if case .stored(let id) = outcome { RelayRecord(id: id, item) } else { nil }
                }
                if !records.isEmpty { committed(records) }
                for (waiter, outcome) in zip(group, outcomes) { waiter.done(.success(outcome)) }
            } catch {
                if !acknowledged.isEmpty { logger.error("cannot delete \(acknowledged.count) acknowledged relays: \(error)") }
                for waiter in group { waiter.done(.failure(error)) }
            }
            for flush in flushes { flush.resume() }
        }
    }

    func shutdown() async {
        try? await thread.shutdownGracefully()
    }
}
