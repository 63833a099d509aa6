import Foundation
import KithStore
import KithTestSupport
import Testing

/// The server's side of watch sessions (spec §Watch sessions): tokens that can be revoked, and
/// unread counts made of the devices' latest report and the messages accepted after it.
@Suite struct WatchStoreTests {
    static func store(_ kind: StoreKind) throws -> any ServerStore {
        let store = try kind.make("watch-store").store
        try store.createAccount(name: "alice", passwordHash: "x", now: 0)
        return store
    }

    @Test(arguments: StoreKind.allCases) func aTokenLivesUntilItExpiresOrIsRevoked(kind: StoreKind) throws {
        let store = try Self.store(kind)
        let hash = [UInt8](repeating: 7, count: 32)
        try store.createWatchSession(tokenHash: hash, account: "alice", expiresAtMillis: 1000)
        #expect(try store.watchSession(tokenHash: hash, now: 999)?.account == "alice")
        #expect(try store.watchSession(tokenHash: hash, now: 1000) == nil, "expired")
        #expect(try store.revokeWatchSessions(account: "alice") == 1)
        #expect(try store.watchSession(tokenHash: hash, now: 0) == nil, "revoked")
        #expect(try store.revokeWatchSessions(account: "alice") == 0, "nothing left to revoke")
    }

    @Test(arguments: StoreKind.allCases) func unreadIsTheLatestReportAndWhatCameAfterIt(kind: StoreKind) throws {
        let store = try Self.store(kind)
        #expect(try store.unreadCounts(account: "alice", contacts: ["bob"]) == ["bob": 0])
        for code in [10, 11, 11, 12] { try store.recordWatchedMessage(account: "alice", contact: "bob", code: Int64(code)) }
        try store.recordWatchedMessage(account: "alice", contact: "carol", code: 13)
        #expect(try store.unreadCounts(account: "alice", contacts: ["bob", "carol"]) == ["bob": 3, "carol": 1], "copies count once")
        try store.recordUnreadReport(account: "alice", contact: "bob", upToCode: 11, unread: 1)
        #expect(try store.unreadCounts(account: "alice", contacts: ["bob"]) == ["bob": 2], "one reported unread, 12 after it")
        try store.recordUnreadReport(account: "alice", contact: "bob", upToCode: 10, unread: 1)
        #expect(try store.unreadCounts(account: "alice", contacts: ["bob"]) == ["bob": 2], "an older report does not replace a newer one")
        try store.recordUnreadReport(account: "alice", contact: "bob", upToCode: 12, unread: 0)
        #expect(try store.unreadCounts(account: "alice", contacts: ["bob"]) == ["bob": 0])
        try store.recordWatchedMessage(account: "alice", contact: "bob", code: 14)
        #expect(try store.unreadCounts(account: "alice", contacts: ["bob"]) == ["bob": 1])
    }
}

extension WatchStoreTests {
    @Test(arguments: StoreKind.allCases) func onlyAcceptedContactsAmongTheNamedAreWatched(kind: StoreKind) throws {
        let store = try Self.store(kind)
        for name in ["bob", "carol", "dave"] { try store.createAccount(name: name, passwordHash: "x", now: 0) }
        _ = try store.requestContact(from: "alice", to: "bob", now: 0)
        try store.acceptContact(account: "bob", requester: "alice")
        _ = try store.requestContact(from: "carol", to: "alice", now: 0)
        #expect(try store.acceptedContacts(of: "alice", among: ["bob", "carol", "dave", "mallory"]) == ["bob"])
        #expect(try store.acceptedContacts(of: "bob", among: ["alice"]) == ["alice"])
    }
}
