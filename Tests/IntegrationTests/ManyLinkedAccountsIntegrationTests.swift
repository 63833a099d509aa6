import Foundation
import KithAPI
import KithCrypto
import KithStore
import KithTestSupport
import Testing

/// Fifty accounts linked under alice (Protocol/links.md): her laptop holds all of them on the one
/// connection it has, and after a login it shows every page with the unread count of what was
/// queued for it while it was away.
@Suite(.serialized, .fewAtATime) struct ManyLinkedAccountsIntegrationTests {
    static let count = 50

    @Test func fiftyLinkedAccountsRideOnOneConnection() async throws {
        let server = try await ServerHarness.start()
        // Fifty accounts straight into the store, with the cheapest argon2id the tests use.
        server.stop()
        let store = try SQLiteServerStore(path: server.directory.appendingPathComponent("server.sqlite").path)
        let hash = try PasswordHash.hash("linked horse", cost: .minimum)
        let names = (1...Self.count).map { String(format: "n%02d", $0) }
        for name in names { try store.createAccount(name: name, passwordHash: hash, now: 1) }
        try await server.startAgain()

        let root = temporaryDirectory("fifty-links")
        let laptop = AgentHarness("alice-laptop", root: root)
        let bob = AgentHarness("bob", root: root)
        for agent in [laptop, bob] { try await agent.start() }
        _ = try laptop.login(server)
        _ = try bob.login(server, account: "bob", password: "battery staple")

        // Each account had no device: the laptop becomes its primary. bob asks each to be his
        // contact, and the laptop accepts on each page.
        for name in names {
            let linked = try laptop.cli(["accounts", "link", name], as: AccountEntry.self, stdin: "linked horse\n")
            #expect(linked.recoveryKey != nil, "\(name): the laptop is its first device")
            _ = try bob.cli(["contacts", "add", name], as: EmptyResult.self)
        }
        try await laptop.eventually("every page to hold bob's request", seconds: 60) {
            try names.allSatisfy { name in
                try laptop.cli(["contacts", "--account", name], as: ContactsResult.self).contacts.contains { $0.account == "bob" }
            }
        }
        for name in names { _ = try laptop.cli(["contacts", "accept", "bob", "--account", name], as: EmptyResult.self) }
        try await bob.eventually("bob to hold every account's roster", seconds: 60) {
            try bob.cli(["contacts"], as: ContactsResult.self).contacts.filter { $0.trust == "unverified" }.count == Self.count
        }

        // The laptop logs out; bob writes 1, 2 or 3 messages to each account meanwhile.
        _ = try laptop.cli(["logout"], as: EmptyResult.self)
        var queued: [String: Int] = [:]
        for (index, name) in names.enumerated() {
            queued[name] = index % 3 + 1
            for n in 0..<(index % 3 + 1) { _ = try bob.cli(["send", name, "message \(n) to \(name)"], as: SendResult.self) }
        }

        // Logged in again: every page, with what was queued for it, on one connection.
        _ = try laptop.cli(["login", server.invite.description, "--account", "alice"], as: LoginResultAPI.self, stdin: "correct horse\n")
        let loggedIn = Date()
        var pages: [AccountEntry] = []
        try await laptop.eventually("fifty pages with their unread counts", seconds: 30) {
            pages = try laptop.cli(["accounts"], as: AccountsResult.self).accounts
            return pages.count == Self.count + 1 && names.allSatisfy { name in
                pages.first { $0.account == name }?.unread == ["bob": queued[name]!]
            }
        }
        print("fifty-links: every page and its unread count \(Int(Date().timeIntervalSince(loggedIn) * 1000)) ms after `kith login` returned")
        #expect(pages.first?.account == "alice" && pages.first?.role == "master" && pages.first?.linked == names)
        #expect(try laptop.cli(["inbox", "--account", "n08"], as: InboxResult.self).messages.map(\.text)
            == ["message 0 to n08", "message 1 to n08"])
        #expect(try Self.connections(of: laptop, to: server) == 1, "one server connection for every account")
        // Past its last use the harness may be released, which stops the server: not before `ss` ran.
        withExtendedLifetime((server, bob)) {}
    }

    /// The laptop agent's established TCP connections to the server's port (`ss`).
    static func connections(of agent: AgentHarness, to server: ServerHarness) throws -> Int {
        let pid = try #require(agent.process?.process.processIdentifier)
        let lines = try Program.run("ss", ["-tnpH", "state", "established", "dst", "127.0.0.1:\(server.invite.port)"]).stdout
        return lines.split(separator: "\n").filter { $0.contains("pid=\(pid),") }.count
    }
}
