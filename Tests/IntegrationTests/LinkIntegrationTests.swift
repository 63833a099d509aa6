import Foundation
import KithAPI
import KithStore
import KithTestSupport
import Testing

/// Links between accounts (Protocol/links.md §Links, §Refusals) with a real server and agents:
/// alice links alice.work with its password; a wrong password and an unknown account get one
/// answer; a link to itself, a second master and a chain are refused; either primary removes the
/// link, and both accounts' devices hear of every change.
@Suite(.serialized, .fewAtATime) struct LinkIntegrationTests {
    @Test func aMasterLinksAnAccountByItsPasswordAndEitherSideRemovesTheLink() async throws {
        let server = try await ServerHarness.start(accounts: [
            "alice": "correct horse", "alice.work": "work horse", "mallory": "evil horse", "bob": "battery staple",
        ])
        let root = temporaryDirectory("links")
        let laptop = AgentHarness("alice-laptop", root: root)
        let workPhone = AgentHarness("work-phone", root: root)
        let mallory = AgentHarness("mallory", root: root)
        for agent in [laptop, workPhone, mallory] { try await agent.start() }
        _ = try laptop.login(server)
        _ = try workPhone.login(server, account: "alice.work", password: "work horse", type: "mobile")
        _ = try mallory.login(server, account: "mallory", password: "evil horse")

        // One answer for a wrong password and an unknown account; no link to itself.
        let wrong = try Self.refusal(laptop, ["accounts", "link", "alice.work"], stdin: "not the password\n")
        let unknown = try Self.refusal(laptop, ["accounts", "link", "nobody"], stdin: "whatever it is\n")
        #expect(wrong.contains("wrong account or password") && unknown.contains("wrong account or password"))
        #expect(try Self.refusal(laptop, ["accounts", "link", "alice"], stdin: "correct horse\n").contains("cannot be linked to itself"))

        // The link: the laptop's account is the master, the work phone's is linked under it.
        let linked = try laptop.cli(["accounts", "link", "alice.work"], as: AccountEntry.self, stdin: "work horse\n")
        #expect(linked.role == "master" && linked.linked == ["alice.work"])
        try await workPhone.eventually("alice.work to hear of its master") {
            try Self.account(workPhone).master == "alice"
        }
        #expect(try Self.account(workPhone).role == "linked")

        // A second master, and a chain, are refused.
        #expect(try Self.refusal(mallory, ["accounts", "link", "alice.work"], stdin: "work horse\n")
            .contains("alice.work is linked under another account"))
        #expect(try Self.refusal(workPhone, ["accounts", "link", "bob"], stdin: "battery staple\n")
            .contains("only a master links accounts"))
        #expect(try Self.refusal(mallory, ["accounts", "link", "alice"], stdin: "correct horse\n")
            .contains("alice has linked accounts of its own"))

        // alice.work's primary removes the link; the master's devices hear of it.
        let removed = try workPhone.cli(["accounts", "unlink", "alice"], as: AccountEntry.self)
        #expect(removed.role == "single" && removed.master == nil)
        try await laptop.eventually("the master to hear the link is gone") { try Self.account(laptop).role == "single" }

        // Linked again, the master removes it.
        _ = try laptop.cli(["accounts", "link", "alice.work"], as: AccountEntry.self, stdin: "work horse\n")
        try await workPhone.eventually("alice.work linked again") { try Self.account(workPhone).master == "alice" }
        #expect(try Self.refusal(mallory, ["accounts", "unlink", "alice.work"]).contains("are not linked"))
        #expect(try laptop.cli(["accounts", "unlink", "alice.work"], as: AccountEntry.self).linked.isEmpty)
        try await workPhone.eventually("alice.work single again") { try Self.account(workPhone).role == "single" }

        // Changes are logged on the server, passwords never are.
        #expect(server.log.contains("linked alice.work under alice"))
        #expect(!server.log.contains("work horse"))
    }

    /// The linked account lists the master's devices, pending until its primary approves them:
    /// in the role `linked` (Protocol/links.md §The linked role); the link gone, they leave its list.
    @Test func theLinkedAccountsPrimaryApprovesTheMastersDevicesAsLinked() async throws {
        let server = try await ServerHarness.start(accounts: ["alice": "correct horse", "alice.work": "work horse"])
        let root = temporaryDirectory("linked-role")
        let laptop = AgentHarness("alice-laptop", root: root)
        let workPhone = AgentHarness("work-phone", root: root)
        for agent in [laptop, workPhone] { try await agent.start() }
        _ = try laptop.login(server)
        _ = try workPhone.login(server, account: "alice.work", password: "work horse", type: "mobile")
        _ = try laptop.cli(["accounts", "link", "alice.work"], as: AccountEntry.self, stdin: "work horse\n")

        try await workPhone.eventually("alice's laptop pending in alice.work") {
            try workPhone.cli(["devices", "--pending"], as: [PendingEntry].self).map(\.id) == ["alice-PC-1"]
        }
        let approved = try workPhone.cli(["approve", "alice-PC-1"], as: RosterResult.self)
        #expect(approved.members.first { $0.id == "alice-PC-1" }?.role == "linked")
        #expect(approved.members.first { $0.id == "alice.work-MP-1" }?.role == "primary")
        #expect(try workPhone.cli(["devices", "--pending"], as: [PendingEntry].self).isEmpty)

        _ = try laptop.cli(["accounts", "unlink", "alice.work"], as: AccountEntry.self)
        try await workPhone.eventually("the laptop gone from alice.work's list") {
            try !workPhone.cli(["devices"], as: DevicesResult.self).devices.map(\.id).contains("alice-PC-1")
        }
    }

    /// alice's laptop holds alice.work as a page on its own connection: bob, a contact of
    /// alice.work only, writes to alice.work; the laptop shows it on that page with its unread
    /// count, reading it there turns it viewed on alice.work's phone, and alice.work's phone sees
    /// nothing of alice. Unlinked, the page is gone and bob's next message does not reach it.
    @Test func theMastersDeviceHoldsALinkedAccountsPage() async throws {
        let (server, laptop, workPhone, bob) = try await Self.aliceWorkAndBob("linked-page")

        // The link, and alice.work's primary signs the laptop in.
        _ = try await Self.link(laptop, approvedOn: workPhone)

        // The laptop holds the page, connected on its own (alice's) connection.
        try await laptop.eventually("the alice.work page connected, with its roster") {
            let page = try laptop.cli(["status", "--account", "alice.work"], as: StatusResult.self)
            return page.connected && page.role == "linked" && page.account == "alice.work"
        }
        #expect(try laptop.cli(["status"], as: StatusResult.self).account == "alice", "the page is not the default account")
        try await bob.eventually("bob to hold alice.work's roster with the laptop in it") {
            try bob.cli(["contacts"], as: ContactsResult.self).contacts.first { $0.account == "alice.work" }?
                .approvedDevices?.contains("alice-PC-1") == true
        }

        // bob writes to alice.work: the laptop shows it on that page only.
        let sent = try bob.cli(["send", "alice.work", "hello work"], as: SendResult.self)
        #expect(Set(sent.devices ?? []) == ["alice.work-MP-1", "alice-PC-1"])
        try await laptop.eventually("bob's message on the alice.work page") {
            try laptop.cli(["inbox", "--account", "alice.work"], as: InboxResult.self).messages.map(\.text) == ["hello work"]
        }
        #expect(try laptop.cli(["inbox", "--account", "alice"], as: InboxResult.self).messages.isEmpty)
        let pages = try laptop.cli(["accounts"], as: AccountsResult.self).accounts
        #expect(pages.map(\.account) == ["alice", "alice.work"])
        #expect(pages.first { $0.account == "alice.work" }?.unread == ["bob": 1])
        #expect(pages.first { $0.account == "alice" }?.unreadTotal == 0, "unread counts stay per account")
        let human = try KithProcess.run(["inbox", "--profile", laptop.profile.path]).stdout
        #expect(human.contains("== alice (master)\n0 unread"), "\(human)")
        #expect(human.contains("== alice.work (linked under alice)\n1 unread: bob 1"), "\(human)")
        let contacts = try KithProcess.run(["contacts", "--profile", laptop.profile.path]).stdout
        #expect(contacts.contains("== alice\nno contacts") && contacts.contains("== alice.work\nbob  "), "\(contacts)")

        // Read on the laptop's page, viewed on alice.work's own phone.
        let code = try #require(try laptop.cli(["inbox", "--account", "alice.work"], as: InboxResult.self).messages.first?.code)
        _ = try laptop.cli(["read", "\(code)", "--account", "alice.work"], as: ReadResult.self)
        try await workPhone.eventually("the viewed mark on alice.work's phone") {
            try workPhone.cli(["inbox"], as: InboxResult.self).messages.first { $0.code == code }?.viewed == true
        }

        // alice.work's phone alone holds alice.work only.
        #expect(try workPhone.cli(["accounts"], as: AccountsResult.self).accounts.map(\.account) == ["alice.work"])
        #expect(try workPhone.cli(["inbox"], as: InboxResult.self).notes.isEmpty)

        // Unlinked: the page goes, and bob's next message does not reach the laptop.
        _ = try laptop.cli(["accounts", "unlink", "alice.work"], as: AccountEntry.self)
        try await bob.eventually("alice.work's roster without the laptop, signed by its primary") {
            try bob.cli(["contacts"], as: ContactsResult.self).contacts.first { $0.account == "alice.work" }?
                .approvedDevices == ["alice.work-MP-1"]
        }
        try await laptop.eventually("the page gone") {
            try laptop.cli(["accounts"], as: AccountsResult.self).accounts.map(\.account) == ["alice"]
        }
        _ = try bob.cli(["send", "alice.work", "after the unlink"], as: SendResult.self)
        try await workPhone.eventually("the message on alice.work's own phone") {
            try workPhone.cli(["inbox"], as: InboxResult.self).messages.contains { $0.text == "after the unlink" }
        }
        #expect(throws: AgentHarness.CLIFailure.self) {
            _ = try laptop.cli(["inbox", "--account", "alice.work"], as: InboxResult.self)
        }
        withExtendedLifetime(server) {}
    }

    /// A link written into the server's database by hand, which alice.work's primary never
    /// signed the laptop into: the laptop's page gets nothing of alice.work (links.md).
    @Test func aForgedLinkGivesTheMastersDevicesNothing() async throws {
        let (server, laptop, workPhone, bob) = try await Self.aliceWorkAndBob("forged-link")

        server.stop()
        try SQLiteServerStore(path: server.directory.appendingPathComponent("server.sqlite").path)
            .link(master: "alice", linked: "alice.work", now: 1)
        try await server.startAgain()
        try await laptop.eventually("the laptop to hear of the (forged) link") {
            try laptop.cli(["accounts"], as: AccountsResult.self).accounts.map(\.account) == ["alice", "alice.work"]
        }
        try await bob.eventually("bob connected and holding alice.work's roster") {
            try bob.cli(["contacts"], as: ContactsResult.self).contacts.first { $0.account == "alice.work" }?.trust == "unverified"
        }
        _ = try bob.cli(["send", "alice.work", "for alice.work only"], as: SendResult.self)
        try await workPhone.eventually("the message on alice.work's phone") {
            try workPhone.cli(["inbox"], as: InboxResult.self).messages.contains { $0.text == "for alice.work only" }
        }
        try await KithProcess.patientSleep(.milliseconds(500))
        let page = try laptop.cli(["inbox", "--account", "alice.work"], as: InboxResult.self)
        #expect(page.messages.isEmpty && page.notes.isEmpty)
        #expect(try laptop.cli(["contacts", "--account", "alice.work"], as: ContactsResult.self).contacts.isEmpty)
        #expect(try laptop.cli(["devices", "--account", "alice.work"], as: DevicesResult.self).devices.isEmpty)
        #expect(try laptop.cli(["status", "--account", "alice.work"], as: StatusResult.self).roster == nil)
        // And what the page asks of the server for alice.work is refused.
        let asked = try Self.refusal(laptop, ["contacts", "add", "carol", "--account", "alice.work"])
        #expect(asked.contains("alice.work's roster does not list alice-PC-1"), "\(asked)")
        #expect(server.log.contains("alice-PC-1 may not act for alice.work"))
    }

    /// An account linked before it has a device takes the master's device as its primary (the
    /// first-device rule): the link shows its recovery key once; the page approves the account's
    /// own devices; the link stays until the primary role is handed to one of them.
    @Test func anAccountWithoutADeviceIsLinkedWithTheMastersDeviceAsItsPrimary() async throws {
        let server = try await ServerHarness.start(accounts: ["alice": "correct horse", "alice.family": "family horse"])
        let root = temporaryDirectory("linked-first")
        let laptop = AgentHarness("alice-laptop", root: root)
        let tablet = AgentHarness("family-tablet", root: root)
        for agent in [laptop, tablet] { try await agent.start() }
        _ = try laptop.login(server)
        let linked = try laptop.cli(["accounts", "link", "alice.family"], as: AccountEntry.self, stdin: "family horse\n")
        #expect(linked.recoveryKey?.count == 35, "the new recovery key, shown once")
        try await laptop.eventually("the page to hold alice.family's first roster, as its primary") {
            try laptop.cli(["status", "--account", "alice.family"], as: StatusResult.self).role == "primary"
        }

        // alice.family's own tablet is pending there, and the laptop approves it on the page.
        let pending = try tablet.login(server, account: "alice.family", password: "family horse", type: "tv", approve: false)
        #expect(pending.role == "pending")
        try await laptop.eventually("the tablet pending on the page") {
            try laptop.cli(["devices", "--pending", "--account", "alice.family"], as: [PendingEntry].self).map(\.id) == [pending.deviceID]
        }
        let approved = try laptop.cli(["approve", pending.deviceID, "--account", "alice.family"], as: RosterResult.self)
        #expect(approved.members.first { $0.id == pending.deviceID }?.role == "secondary")
        try await tablet.eventually("the tablet approved") { try tablet.cli(["status"], as: StatusResult.self).role == "secondary" }

        // While the laptop is alice.family's primary, the link stays.
        let refusal = try Self.refusal(laptop, ["accounts", "unlink", "alice.family"])
        #expect(refusal.contains("alice.family's primary is alice-PC-1, a device of alice"))
    }

    /// set-master swaps the roles: alice.work becomes the master of alice, its roster drops the
    /// laptop, the laptop's page goes, and alice's primary approves alice.work's phone as linked,
    /// which then holds alice as a page.
    @Test func setMasterSwapsTheRolesOfMasterAndLinkedAccount() async throws {
        let server = try await ServerHarness.start(accounts: ["alice": "correct horse", "alice.work": "work horse"])
        let root = temporaryDirectory("set-master")
        let laptop = AgentHarness("alice-laptop", root: root)
        let workPhone = AgentHarness("work-phone", root: root)
        for agent in [laptop, workPhone] { try await agent.start() }
        _ = try laptop.login(server)
        _ = try workPhone.login(server, account: "alice.work", password: "work horse", type: "mobile")
        _ = try await Self.link(laptop, approvedOn: workPhone)
        try await laptop.eventually("the alice.work page") {
            try laptop.cli(["status", "--account", "alice.work"], as: StatusResult.self).role == "linked"
        }

        #expect(try Self.refusal(laptop, ["accounts", "set-master", "alice.work"], stdin: "wrong horse\n")
            .contains("wrong account or password"))
        let swapped = try laptop.cli(["accounts", "set-master", "alice.work"], as: AccountEntry.self, stdin: "work horse\n")
        #expect(swapped.role == "linked" && swapped.master == "alice.work")
        try await workPhone.eventually("alice.work is the master, and its roster dropped the laptop") {
            let me = try Self.account(workPhone)
            let status = try workPhone.cli(["status"], as: StatusResult.self)
            return me.role == "master" && me.linked == ["alice"] && status.roster == "roster 3"
        }
        try await laptop.eventually("the laptop's page gone") {
            try laptop.cli(["accounts"], as: AccountsResult.self).accounts.map(\.account) == ["alice"]
        }
        // alice's primary approves alice.work's phone, which then holds alice as a page.
        try await laptop.eventually("the work phone pending in alice") {
            try laptop.cli(["devices", "--pending"], as: [PendingEntry].self).map(\.id) == ["alice.work-MP-1"]
        }
        let approved = try laptop.cli(["approve", "alice.work-MP-1"], as: RosterResult.self)
        #expect(approved.members.first { $0.id == "alice.work-MP-1" }?.role == "linked")
        try await workPhone.eventually("the alice page on the work phone") {
            try workPhone.cli(["status", "--account", "alice"], as: StatusResult.self).role == "linked"
        }
    }

    /// A server with alice, alice.work and bob; alice's laptop, alice.work's phone (its primary)
    /// and bob's desktop logged in; bob and alice.work contacts.
    static func aliceWorkAndBob(_ name: String) async throws -> (ServerHarness, AgentHarness, AgentHarness, AgentHarness) {
        let server = try await ServerHarness.start(accounts: [
            "alice": "correct horse", "alice.work": "work horse", "bob": "battery staple",
        ])
        let root = temporaryDirectory(name)
        let laptop = AgentHarness("alice-laptop", root: root)
        let workPhone = AgentHarness("work-phone", root: root)
        let bob = AgentHarness("bob", root: root)
        for agent in [laptop, workPhone, bob] { try await agent.start() }
        _ = try laptop.login(server)
        _ = try workPhone.login(server, account: "alice.work", password: "work horse", type: "mobile")
        _ = try bob.login(server, account: "bob", password: "battery staple")
        _ = try bob.cli(["contacts", "add", "alice.work"], as: EmptyResult.self)
        try await workPhone.eventually("bob's request") {
            try workPhone.cli(["contacts"], as: ContactsResult.self).contacts.contains { $0.account == "bob" }
        }
        _ = try workPhone.cli(["contacts", "accept", "bob"], as: EmptyResult.self)
        return (server, laptop, workPhone, bob)
    }

    /// The laptop links alice.work; alice.work's primary (the work phone) approves it as linked.
    static func link(_ laptop: AgentHarness, approvedOn workPhone: AgentHarness) async throws -> RosterResult {
        _ = try laptop.cli(["accounts", "link", "alice.work"], as: AccountEntry.self, stdin: "work horse\n")
        try await workPhone.eventually("the laptop pending in alice.work") {
            try workPhone.cli(["devices", "--pending"], as: [PendingEntry].self).map(\.id) == ["alice-PC-1"]
        }
        return try workPhone.cli(["approve", "alice-PC-1"], as: RosterResult.self)
    }

    static func account(_ agent: AgentHarness) throws -> AccountEntry {
        try #require(try agent.cli(["accounts"], as: AccountsResult.self).accounts.first)
    }

    /// Runs a CLI command that must fail; its error message.
    static func refusal(_ agent: AgentHarness, _ arguments: [String], stdin: String? = nil) throws -> String {
        do {
            _ = try agent.cli(arguments, as: AccountEntry.self, stdin: stdin)
        } catch let failure as AgentHarness.CLIFailure {
            return failure.message
        }
        Issue.record("`kith \(arguments.joined(separator: " "))` succeeded")
        return ""
    }
}
