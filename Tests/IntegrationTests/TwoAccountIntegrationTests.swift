import Foundation
import KithAPI
import KithTestSupport
import Testing

/// One agent holding two accounts on two servers (Protocol/local-api.md §Accounts): alice on one
/// server, carol on another, each with a second device elsewhere and alice with a contact. Their
/// messages, notes, read marks, rosters, policies and transfers never cross, and both accounts
/// come back after a restart.
@Suite(.serialized, .fewAtATime) struct TwoAccountIntegrationTests {
    @Test func twoAccountsOnTwoServersNeverCross() async throws {
        let first = try await ServerHarness.start()
        let second = try await ServerHarness.start(accounts: ["carol": "hunter two"])
        #expect(first.invite.key != second.invite.key)
        let root = temporaryDirectory("two-accounts")
        let hub = AgentHarness("hub", root: root)
        let aliceLaptop = AgentHarness("alice-laptop", root: root)
        let carolPhone = AgentHarness("carol-phone", root: root)
        let bob = AgentHarness("bob", root: root)
        for agent in [hub, aliceLaptop, carolPhone, bob] { try await agent.start() }

        // alice's first device is the hub, which approves her laptop; then the hub adds carol
        // (the default account from then on), and approves carol's phone.
        #expect(try hub.login(first).role == "primary")
        #expect(try aliceLaptop.login(first, type: "mobile").deviceID == "alice-MP-1")
        #expect(try hub.login(second, account: "carol", password: "hunter two").role == "primary")
        #expect(try carolPhone.login(second, account: "carol", password: "hunter two", type: "mobile").deviceID == "carol-MP-1")
        #expect(try bob.login(first, account: "bob", password: "battery staple").role == "primary")

        let status = try hub.cli(["status"], as: StatusResult.self)
        #expect(status.account == "carol", "the account logged in last is the default")
        #expect(status.accounts?.map(\.account) == ["carol", "alice"])
        try await hub.eventually("both accounts connected") {
            try hub.cli(["status"], as: StatusResult.self).accounts?.allSatisfy(\.connected) == true
        }

        // Rosters and device lists: each account's holds its own devices only.
        let aliceStatus = try hub.cli(["status", "--account", "alice"], as: StatusResult.self)
        let carolStatus = try hub.cli(["status", "--account", "carol"], as: StatusResult.self)
        #expect(aliceStatus.deviceID == "alice-PC-1" && aliceStatus.primary == "alice-PC-1" && aliceStatus.roster == "roster 2")
        #expect(carolStatus.deviceID == "carol-PC-1" && carolStatus.primary == "carol-PC-1" && carolStatus.roster == "roster 2")
        let aliceDevices = try hub.cli(["devices", "--account", "alice"], as: DevicesResult.self).devices.map(\.id)
        let carolDevices = try hub.cli(["devices"], as: DevicesResult.self).devices.map(\.id)
        #expect(Set(aliceDevices) == ["alice-PC-1", "alice-MP-1"])
        #expect(Set(carolDevices) == ["carol-PC-1", "carol-MP-1"])

        // Notes: each sibling writes to the hub under its own account.
        _ = try aliceLaptop.cli(["send", "alice-PC-1", "from alice's laptop"], as: SendResult.self)
        _ = try carolPhone.cli(["send", "carol-PC-1", "from carol's phone"], as: SendResult.self)
        try await hub.eventually("both notes") {
            try notes(hub, "alice") == ["from alice's laptop"] && notes(hub, "carol") == ["from carol's phone"]
        }

        // Messages and read marks: bob writes to alice; the hub reads it as alice, her laptop
        // turns it viewed, and carol's side never sees either.
        _ = try bob.cli(["contacts", "add", "alice"], as: EmptyResult.self)
        try await hub.eventually("bob's request to reach alice") {
            try hub.cli(["contacts", "--account", "alice"], as: ContactsResult.self).contacts.contains { $0.account == "bob" }
        }
        _ = try hub.cli(["contacts", "accept", "bob", "--account", "alice"], as: EmptyResult.self)
        try await bob.eventually("alice's roster pinned") {
            try bob.cli(["contacts"], as: ContactsResult.self).contacts.first { $0.account == "alice" }?.trust == "unverified"
        }
        _ = try bob.cli(["send", "alice", "hello alice"], as: SendResult.self)
        try await hub.eventually("bob's message to alice") { try inbox(hub, "alice").messages.map(\.text) == ["hello alice"] }
        let code = try #require(try inbox(hub, "alice").messages.first?.code)
        _ = try hub.cli(["read", "\(code)", "--account", "alice"], as: ReadResult.self)
        try await aliceLaptop.eventually("the viewed mark on alice's laptop") {
            try aliceLaptop.cli(["inbox"], as: InboxResult.self).messages.first?.viewed == true
        }
        #expect(try inbox(hub, "carol").messages.isEmpty)
        #expect(try carolPhone.cli(["inbox"], as: InboxResult.self).messages.isEmpty)
        #expect(try hub.cli(["contacts", "--account", "carol"], as: ContactsResult.self).contacts.isEmpty)

        // Policies: the hub, primary of both, sets one for carol's phone; alice's books stay empty.
        _ = try hub.cli(["policy", "set", "carol-MP-1", "messages=silent", "--account", "carol"], as: PolicyResult.self)
        try await carolPhone.eventually("carol's phone to take its policy") {
            try carolPhone.cli(["policy", "show"], as: PolicyResult.self).policies.first?.version == 1
        }
        let alicePolicies = try hub.cli(["policy", "show", "--account", "alice"], as: PolicyResult.self).policies
        let carolPolicies = try hub.cli(["policy", "show", "--account", "carol"], as: PolicyResult.self).policies
        #expect(alicePolicies.allSatisfy { $0.device.hasPrefix("alice-") && $0.version == nil })
        #expect(carolPolicies.filter { $0.version != nil }.map(\.device) == ["carol-MP-1"])
        #expect(carolPolicies.allSatisfy { $0.device.hasPrefix("carol-") })

        // Transfers: the hub pushes to carol's phone as carol; alice's list stays empty.
        let file = root.appendingPathComponent("for-carol.txt")
        try Data("only for carol".utf8).write(to: file)
        let pushed = try KithProcess.run(["push", file.path, "--to", "carol-MP-1", "--direct", "--account", "carol",
                                          "--profile", hub.profile.path, "--json"])
        #expect(pushed.status == 0, "\(pushed.stderr)")
        let landed = carolPhone.received.appendingPathComponent("for-carol.txt")
        try await carolPhone.eventually("the file on carol's phone") { FileManager.default.fileExists(atPath: landed.path) }
        #expect(try hub.cli(["transfers", "--account", "carol"], as: TransfersResult.self).transfers.count == 1)
        #expect(try hub.cli(["transfers", "--account", "alice"], as: TransfersResult.self).transfers.isEmpty)
        #expect(try aliceLaptop.cli(["transfers"], as: TransfersResult.self).transfers.isEmpty)

        // An account the agent does not hold is refused, naming the ones it does.
        #expect(throws: AgentHarness.CLIFailure.self) { _ = try hub.cli(["inbox", "--account", "dave"], as: InboxResult.self) }

        // After a restart both accounts come back, connected, with their data.
        #expect(hub.terminate() == 0)
        try await hub.start()
        try await hub.eventually("both accounts connected again") {
            try hub.cli(["status"], as: StatusResult.self).accounts?.filter(\.connected).count == 2
        }
        #expect(try notes(hub, "alice") == ["from alice's laptop"])
        #expect(try notes(hub, "carol") == ["from carol's phone"])
        #expect(try inbox(hub, "alice").messages.first?.viewed == true)
        #expect(try hub.cli(["status"], as: StatusResult.self).account == "carol")
    }

    private func inbox(_ agent: AgentHarness, _ account: String) throws -> InboxResult {
        try agent.cli(["inbox", "--limit", "1000", "--account", account], as: InboxResult.self)
    }

    private func notes(_ agent: AgentHarness, _ account: String) throws -> [String] {
        try inbox(agent, account).notes.map(\.text)
    }
}
