import Foundation
import KithStore
import Testing

/// The server's documents and revoked devices (on each store).
@Suite struct ServerRosterStoreTests {
    @Test(arguments: StoreKind.allCases) func keptRostersStayAndOnlyTheLatestOtherOneDoes(kind: StoreKind) throws {
        let (store, reopen) = try kind.make("roster-store")
        try store.createAccount(name: "alice", passwordHash: "h", now: 1)
        try store.storeRoster(account: "alice", document: [1], kept: true)    // the first
        try store.storeRoster(account: "alice", document: [2], kept: false)
        try store.storeRoster(account: "alice", document: [3], kept: false)
        try store.storeRoster(account: "alice", document: [4], kept: true)    // a hand-over
        try store.storeRoster(account: "alice", document: [5], kept: false)
        let reopened = try reopen()
        #expect(try reopened.rosters(account: "alice") == [[1], [4], [5]])
        #expect(try reopened.latestRoster(account: "alice") == [5])
        #expect(try reopened.rosters(account: "bob").isEmpty)
        // Several accounts' latest in one read: only those that have one.
        #expect(try reopened.relayCheckReads(targets: [], senderAccounts: ["alice", "bob", "alice"]).rosters == ["alice": [5]])
        try store.storePolicy(account: "alice", deviceID: "alice-MP-1", document: [7])
        try store.storePolicy(account: "alice", deviceID: "alice-MP-1", document: [8])
        #expect(try store.policies(account: "alice").map(\.document) == [[8]])
    }

    @Test(arguments: StoreKind.allCases) func aRevokedDeviceIsGoneForGood(kind: StoreKind) throws {
        let (store, _) = try kind.make("roster-store")
        try store.createAccount(name: "alice", passwordHash: "h", now: 1)
        _ = try store.registerDevice(ServerStoreTests.registration(1), now: 2)
        let phone = try store.registerDevice(ServerStoreTests.registration(2, type: .mobile, code: "MP"), now: 3)
        #expect(try store.firstDeviceID(account: "alice") == "alice-PC-1")
        try store.createSession(tokenHash: [9], deviceID: phone.id, expiresAtMillis: .max / 2)
        _ = try store.enqueueRelay(from: "alice-PC-1", to: phone.id, payload: [1], code: nil, scope: nil, fromAccount: nil, now: 4)
        try store.storePolicy(account: "alice", deviceID: phone.id, document: [7])

        try store.revokeDevice(id: phone.id)
        #expect(try store.session(tokenHash: [9])?.revoked == true)
        #expect(try store.pendingRelays(to: phone.id, after: 0, limit: 10).isEmpty)
        #expect(try store.policies(account: "alice").isEmpty)
        #expect(try store.device(id: phone.id) == nil)
        #expect(try store.devices(account: "alice").map(\.id) == ["alice-PC-1"])
        // Several devices in one read: a revoked or unknown id is not among them.
        let read = try store.relayCheckReads(targets: [phone.id, "alice-PC-1", "alice-PC-9", "alice-PC-1"], senderAccounts: ["alice"])
        #expect(read.targets.mapValues(\.account) == ["alice-PC-1": "alice"])
        #expect(read.rosters.isEmpty, "alice has no roster")
        #expect(throws: StoreError.revoked(phone.id)) {
            _ = try store.registerDevice(ServerStoreTests.registration(2, type: .mobile, code: "MP"), now: 5)
        }
        #expect(throws: StoreError.notFound("there is no device \(phone.id)")) { try store.revokeDevice(id: phone.id) }
        // Its id is never given again.
        #expect(try store.registerDevice(ServerStoreTests.registration(3, type: .mobile, code: "MP"), now: 6).id == "alice-MP-2")
    }
}
