import Foundation
import GRDB
import KithStore
import KithTestSupport
import Testing

/// The agent's store with an owner on everything of an account (migration v7): a store the
/// previous version wrote keeps every row under its session's account, and two accounts in one
/// store never see each other's data.
@Suite struct AgentStoreOwnerTests {
    /// `Fixtures/agent-v6.sqlite`: alice's laptop after `kith demo` with the store of schema v6
    /// (commit 2b20a21): her session, both devices, bob as a contact with his pinned roster, his
    /// message (read), a note in the outbox, her roster, a finished push.
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/agent-v6.sqlite")

    static func copyOfFixture() throws -> String {
        let path = temporaryDirectory("v6-store").appendingPathComponent("agent.sqlite").path
        try FileManager.default.copyItem(atPath: fixture.path, toPath: path)
        return path
    }

    static func expectAlicesLaptop(_ store: AgentStore) throws {
        let session = try #require(try store.session())
        #expect(session.account == "alice" && session.deviceID == "alice-PC-1")
        #expect(store.owner == AgentStore.owner(account: "alice", invite: session.invite))
        #expect(try store.devices().map(\.id) == ["alice-MP-1", "alice-PC-1"])
        #expect(try store.contacts().map(\.account) == ["bob"])
        #expect(try store.contactDevices(account: "bob").map(\.id) == ["bob-PC-1"])
        #expect(try store.contactRosters().map(\.account) == ["bob"])
        let message = try #require(try store.messages().first)
        #expect(message.text == "lunch at noon?" && message.sender == "bob-PC-1" && message.viewedAtMillis != nil)
        #expect(try store.roster() != nil)
        #expect(try store.transfers().count == 1)
        #expect(try store.incoming().map(\.text) == ["hello from the phone"] && store.pendingOutgoingCount() == 0)
    }

    @Test func aStoreOfThePreviousVersionKeepsEverythingUnderItsAccount() throws {
        let path = try Self.copyOfFixture()
        try Self.expectAlicesLaptop(try AgentStore(path: path))
        try Self.expectAlicesLaptop(try AgentStore(path: path))  // and opens again, migrated once
    }

    @Test func twoAccountsInOneStoreNeverSeeEachOthersRows() throws {
        let store = try AgentStore(path: try Self.copyOfFixture())
        let alice = store.owner
        // carol on another server: a new owner, nothing of alice's.
        try store.saveSession(.init(invite: "kith://10.9.9.9:7400/#" + String(repeating: "ab", count: 32), account: "carol",
                                    deviceID: "carol-PC-1", token: [1, 2, 3], expiresAtMillis: 9))
        #expect(store.owner != alice && store.owner.hasPrefix("carol@abab"))
        #expect(try store.devices().isEmpty && store.contacts().isEmpty && store.messages().isEmpty)
        #expect(try store.roster() == nil && store.contactRosters().isEmpty && store.transfers().isEmpty)
        try store.replaceDevices([.init(id: "carol-PC-1", name: "c", terminalType: .pc, key: [9], online: true, lastSeenMillis: 1,
                                        clientVersion: "x")], revision: 1)
        _ = try store.enqueue([.init(kind: .note, receiver: "carol-PC-2", itemID: [7], text: "carol's", sentAtMillis: 1)])
        try store.saveRoster([4, 5, 6])
        // Back to alice: hers as they were, none of carol's.
        store.use(owner: alice)
        try Self.expectAlicesLaptop(store)
        #expect(try store.roster() != [4, 5, 6])
        // The same account name on another server is another owner too.
        #expect(AgentStore.owner(account: "alice", invite: "kith://a:1/#AA") != alice)
        #expect(AgentStore.owner(account: "carol", invite: "kith://b:2/#AB") == AgentStore.owner(account: "carol", invite: "kith://c:3/#ab"),
                "the server is its key, whatever address and case the invite has")
    }

    @Test func aLogoutKeepsTheAccountsDataForItsNextLogin() throws {
        let path = try Self.copyOfFixture()
        let store = try AgentStore(path: path)
        let session = try #require(try store.session())
        try store.clearSession()
        #expect(try store.session() == nil)
        let reopened = try AgentStore(path: path)
        #expect(try reopened.session() == nil && reopened.invite() == session.invite)
        try reopened.saveSession(session)
        try Self.expectAlicesLaptop(reopened)
    }

    @Test func theServersInstancesAreKeptWithTheSessionAndReplacedByTheNextList() throws {
        let path = try Self.copyOfFixture()
        let store = try AgentStore(path: path)
        #expect(try store.session()?.instances == [], "a store from before instances names none")
        try store.saveInstances(["10.0.0.1:7400", "[fd00::2]:7400"])
        #expect(try AgentStore(path: path).session()?.instances == ["10.0.0.1:7400", "[fd00::2]:7400"])
        try store.saveInstances(["10.0.0.3:7400"])
        #expect(try store.session()?.instances == ["10.0.0.3:7400"])
        var session = try #require(try store.session())
        session.instances = []
        try store.saveSession(session)
        #expect(try store.session()?.instances == [])
    }
}
