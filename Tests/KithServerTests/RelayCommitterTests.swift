import Foundation
import KithCore
import KithStore
import KithTestSupport
import NIOConcurrencyHelpers
import Testing
@testable import KithServer

/// Group commit against a real SQLite store: every caller gets its own outcome, and what is handed
/// on to the receivers' outboxes arrives in commit order, whatever order the callers were answered in.
@Suite struct RelayCommitterTests {
    @Test func concurrentCommitsAreAnsweredEachAndHandedOnInIdOrder() async throws {
        let store = try Self.storeOfTwoLaptops("committer")
        let handedOn = NIOLockedValueBox<[[Int64]]>([])
        let quota = RelayQuota(perReceiver: .init(count: 150, bytes: 1 << 20), perSender: .init(count: 1000, bytes: 1 << 20))
        let committer = RelayCommitter(store: store, quota: quota, now: { 3 }) { records in
            handedOn.withLockedValue { $0.append(records.map(\.id)) }
        }
        let outcomes = await withTaskGroup(of: (Int, RelayOutcome?).self) { group in
            for n in 0..<200 {
                group.addTask {
                    (n, try? await committer.commit(RelayItem(from: "alice-PC-1", to: "alice-PC-2", payload: [UInt8(n % 256)])))
                }
            }
            return await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        await committer.shutdown()

        let stored = outcomes.values.compactMap { if case .stored(let id) = $0 { id } else { nil } }
        let refused = outcomes.values.filter { if case .refused = $0 { true } else { false } }
        #expect(stored.count == 150 && refused.count == 50, "the receiver's quota of 150 holds within and across groups")
        let groups = handedOn.withLockedValue { $0 }
        #expect(groups.flatMap { $0 } == stored.sorted(), "handed on once each, in commit order")
        print("relay committer: 200 commits in \(groups.count) groups")  // how many share depends on timing: not asserted
        #expect(try store.pendingRelays(to: "alice-PC-2", after: 0, limit: 500).map(\.id) == stored.sorted())
    }

    /// Acknowledged payloads are deleted with the next group (or after a short wait), and
    /// `deleteAcknowledged` returns only once they are gone: a session's first delivery reads the
    /// store after it.
    @Test func acknowledgedPayloadsAreDeletedBeforeTheFlushReturns() async throws {
        let store = try Self.storeOfTwoLaptops("committer-acks")
        let committer = RelayCommitter(store: store, quota: nil, now: { 3 }) { _ in }
        var ids: [Int64] = []
        for n in 0..<3 {
            if case .stored(let id) = try await committer.commit(RelayItem(from: "alice-PC-1", to: "alice-PC-2", payload: [UInt8(n)])) {
                ids.append(id)
            }
        }
        committer.acknowledged(id: ids[0], to: "alice-PC-2")
        committer.acknowledged(id: ids[1], to: "alice-PC-1")  // not that device's: left alone
        committer.acknowledged(id: ids[2], to: "alice-PC-2")
        await committer.deleteAcknowledged()
        #expect(try store.pendingRelays(to: "alice-PC-2", after: 0, limit: 10).map(\.id) == [ids[1]])

        // Alone, an acknowledgement is deleted within the ack delay.
        committer.acknowledged(id: ids[1], to: "alice-PC-2")
        for _ in 0..<200 where try !store.pendingRelays(to: "alice-PC-2", after: 0, limit: 10).isEmpty {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(try store.pendingRelays(to: "alice-PC-2", after: 0, limit: 10).isEmpty)
        await committer.shutdown()
    }

    /// alice with two laptops, alice-PC-1 and alice-PC-2.
    static func storeOfTwoLaptops(_ folder: String) throws -> SQLiteServerStore {
        let store = try aliceStore(folder)
        for key in [UInt8(1), 2] {
            _ = try store.registerDevice(DeviceRegistration(account: "alice", terminalType: .pc, typeCode: "PC", name: "d\(key)",
                                                            key: [UInt8](repeating: key, count: 32), clientVersion: "t",
                                                            addresses: []), now: 2)
        }
        return store
    }
}
