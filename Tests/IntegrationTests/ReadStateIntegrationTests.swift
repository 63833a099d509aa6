import Foundation
import KithAPI
import KithAgent
import KithTestSupport
import Testing

/// Read state that follows the person (spec §Read state), across real agents and a real server:
/// a message viewed on one device of alice turns viewed on all of them.
@Suite(.serialized, .fewAtATime) struct ReadStateIntegrationTests {
    /// alice on three devices (one offline), bob on one: bob writes, alice reads on one device,
    /// the others follow, and the offline one converges when it returns.
    @Test func viewedOnOneDeviceIsViewedOnAll() async throws {
        let (server, alice, bob) = try await Self.people(aliceDevices: 3)
        let offline = alice[2]
        offline.kill9()

        let sent = try bob.cli(["send", "alice", "lunch at noon?"], as: SendResult.self)
        #expect(sent.devices?.count == 3)
        let code = try #require(sent.code)
        for device in alice[0...1] {
            try await device.eventually("the message, unread") {
                let inbox = try device.cli(["inbox"], as: InboxResult.self)
                return inbox.messages.map(\.code) == [code] && inbox.unread == ["bob": 1]
            }
        }

        let read = try alice[0].cli(["read", "\(code)"], as: ReadResult.self)
        #expect(read.messages.map(\.text) == ["lunch at noon?"] && read.newlyViewed == 1)
        try await alice[1].eventually("the message viewed by alice-PC-1") {
            let inbox = try alice[1].cli(["inbox"], as: InboxResult.self)
            return inbox.unread.isEmpty && inbox.messages.first?.viewedBy == "alice-PC-1"
        }

        try await offline.start()
        try await offline.eventually("the message, already viewed") {
            let inbox = try offline.cli(["inbox"], as: InboxResult.self)
            return inbox.messages.map(\.code) == [code] && inbox.messages[0].viewed && inbox.unread.isEmpty
        }
        try await Self.expectSettled(alice + [bob])
        _ = server
    }

    /// Content fallback: the same text reached two devices as two messages (bob sent it to each
    /// device separately), so they hold it under different codes; the notice's clip matches it.
    @Test func aCopyHeldUnderAnotherCodeIsMatchedByItsText() async throws {
        let (server, alice, bob) = try await Self.people(aliceDevices: 2)
        let text = String(repeating: "a long message that is the same on both devices. ", count: 20)
        let first = try #require(try bob.cli(["send", "alice-PC-1", text], as: SendResult.self).code)
        let second = try #require(try bob.cli(["send", "alice-PC-2", text], as: SendResult.self).code)
        #expect(first != second)
        try await alice[1].eventually("its copy") { try alice[1].cli(["inbox"], as: InboxResult.self).unread == ["bob": 1] }
        try await alice[0].eventually("its copy") { try alice[0].cli(["inbox"], as: InboxResult.self).unread == ["bob": 1] }

        _ = try alice[0].cli(["read", "\(first)"], as: ReadResult.self)
        try await alice[1].eventually("its copy viewed through the clip") {
            let inbox = try alice[1].cli(["inbox"], as: InboxResult.self)
            return inbox.messages.map(\.code) == [second] && inbox.messages[0].viewed && inbox.unread.isEmpty
        }
        try await Self.expectSettled(alice)
        _ = server
    }

    /// "Mark all read" sends one notice; a later message is unread again.
    @Test func markingAllReadTravelsAsOneNotice() async throws {
        let (server, alice, bob) = try await Self.people(aliceDevices: 2)
        for i in 0..<20 { _ = try bob.cli(["send", "alice", "message \(i)"], as: SendResult.self) }
        try await alice[1].eventually("20 unread") { try alice[1].cli(["inbox"], as: InboxResult.self).unread == ["bob": 20] }
        try await alice[0].eventually("20 unread") { try alice[0].cli(["inbox"], as: InboxResult.self).unread == ["bob": 20] }
        let read = try alice[0].cli(["read", "--all", "bob"], as: ReadResult.self)
        #expect(read.newlyViewed == 20)
        try await alice[1].eventually("none unread") { try alice[1].cli(["inbox"], as: InboxResult.self).unread.isEmpty }
        _ = try bob.cli(["send", "alice", "one more"], as: SendResult.self)
        try await alice[1].eventually("the new one unread") { try alice[1].cli(["inbox"], as: InboxResult.self).unread == ["bob": 1] }
        try await Self.expectSettled(alice)
        _ = server
    }

    /// kill -9 of a device while it applies a stream of notices: after a restart its store is
    /// consistent (every message once, viewed, no notice left) and nothing is lost.
    @Test func killNineWhileApplyingLeavesAConsistentStore() async throws {
        let (server, alice, bob) = try await Self.people(aliceDevices: 2)
        let total = 60
        for i in 0..<total { _ = try bob.cli(["send", "alice", "message \(i)"], as: SendResult.self) }
        for device in alice {
            try await device.eventually("\(total) unread") {
                try device.cli(["inbox", "--limit", "1000"], as: InboxResult.self).unread == ["bob": total]
            }
        }
        let codes = try alice[0].cli(["inbox", "--limit", "1000"], as: InboxResult.self).messages.map(\.code)
        let reader = Task {
            for code in codes { _ = try alice[0].cli(["read", "\(code)"], as: ReadResult.self) }
        }
        try await alice[1].eventually("some notices applied") {
            (try alice[1].cli(["inbox", "--limit", "1000"], as: InboxResult.self).unread["bob"] ?? 0) < total - 5
        }
        alice[1].kill9()
        try await reader.value
        try await alice[1].start()
        try await alice[1].eventually("every message viewed") {
            let inbox = try alice[1].cli(["inbox", "--limit", "1000"], as: InboxResult.self)
            return inbox.unread.isEmpty && inbox.messages.count == total && inbox.messages.allSatisfy(\.viewed)
                && Set(inbox.messages.map(\.code)) == Set(codes)
        }
        try await Self.expectSettled(alice)
        _ = server
    }

    /// kill -9 of the reader as soon as `read` has answered: the answer meant committed, so after
    /// a restart the message is viewed there, and the notice, committed with it, reaches the sibling.
    @Test func aReadThatAnsweredSurvivesKillNine() async throws {
        let (server, alice, bob) = try await Self.people(aliceDevices: 2)
        let code = try #require(try bob.cli(["send", "alice", "kept?"], as: SendResult.self).code)
        for device in alice {
            try await device.eventually("the message, unread") { try device.cli(["inbox"], as: InboxResult.self).unread == ["bob": 1] }
        }
        alice[1].kill9()  // the notice cannot leave before the reader dies: it waits in the reader's outbox
        #expect(try alice[0].cli(["read", "\(code)"], as: ReadResult.self).newlyViewed == 1)
        alice[0].kill9()

        try await alice[0].start()
        let inbox = try alice[0].cli(["inbox"], as: InboxResult.self)
        #expect(inbox.messages.map(\.code) == [code] && inbox.messages[0].viewed && inbox.unread.isEmpty)
        try await alice[1].start()
        try await alice[1].eventually("the message viewed by the reader") {
            let inbox = try alice[1].cli(["inbox"], as: InboxResult.self)
            return inbox.unread.isEmpty && inbox.messages.first?.viewedBy == "alice-PC-1"
        }
        try await Self.expectSettled(alice)
        _ = server
    }

    @Test func onlyAcceptedContactsExchangeMessages() async throws {
        let server = try await ServerHarness.start(accounts: ["alice": "correct horse", "bob": "battery staple",
                                                              "carol": "correct horse"])
        let root = temporaryDirectory("contacts")
        let alice = AgentHarness("alice", root: root), bob = AgentHarness("bob", root: root)
        try await alice.start()
        try await bob.start()
        _ = try alice.login(server)
        _ = try bob.login(server, account: "bob", password: "battery staple")
        #expect(throws: AgentHarness.CLIFailure.self) { _ = try alice.cli(["send", "bob", "hi"], as: SendResult.self) }
        #expect(throws: AgentHarness.CLIFailure.self) { _ = try alice.cli(["contacts", "add", "nobody"], as: EmptyResult.self) }
        #expect(throws: AgentHarness.CLIFailure.self) { _ = try alice.cli(["contacts", "accept", "bob"], as: EmptyResult.self) }

        _ = try alice.cli(["contacts", "add", "bob"], as: EmptyResult.self)
        try await bob.eventually("alice's request") {
            try bob.cli(["contacts"], as: ContactsResult.self).contacts.map { [$0.account, $0.state] } == [["alice", "incoming"]]
        }
        #expect(throws: AgentHarness.CLIFailure.self) { _ = try alice.cli(["send", "bob", "hi"], as: SendResult.self) }
        _ = try bob.cli(["contacts", "accept", "alice"], as: EmptyResult.self)
        try await alice.eventually("bob, online") {
            let contact = try alice.cli(["contacts"], as: ContactsResult.self).contacts.first
            return contact?.state == "contact" && contact?.onlineDevices == 1 && contact?.approvedDevices == ["bob-PC-1"]
        }
        _ = try alice.cli(["send", "bob", "hi"], as: SendResult.self)
        try await bob.eventually("alice's message") {
            try bob.cli(["inbox"], as: InboxResult.self).messages.map(\.text) == ["hi"]
        }
        _ = try bob.cli(["contacts", "remove", "alice"], as: EmptyResult.self)
        try await alice.eventually("bob gone") { try alice.cli(["contacts"], as: ContactsResult.self).contacts.isEmpty }
        #expect(throws: AgentHarness.CLIFailure.self) { _ = try alice.cli(["send", "bob", "hi"], as: SendResult.self) }
    }

    // MARK: - Set-up

    /// A server; alice logged in on `aliceDevices` agents, bob on one; alice and bob contacts.
    static func people(aliceDevices: Int) async throws -> (ServerHarness, [AgentHarness], AgentHarness) {
        let server = try await ServerHarness.start()
        let root = temporaryDirectory("people")
        let alice = (1...aliceDevices).map { AgentHarness("alice\($0)", root: root) }
        let bob = AgentHarness("bob", root: root)
        for agent in alice + [bob] { try await agent.start() }
        for agent in alice { _ = try agent.login(server) }
        _ = try bob.login(server, account: "bob", password: "battery staple")
        _ = try alice[0].cli(["contacts", "add", "bob"], as: EmptyResult.self)
        try await bob.eventually("alice's request") {
            try bob.cli(["contacts"], as: ContactsResult.self).contacts.first?.state == "incoming"
        }
        _ = try bob.cli(["contacts", "accept", "alice"], as: EmptyResult.self)
        try await bob.eventually("alice's roster, with every device of hers") {
            try bob.cli(["contacts"], as: ContactsResult.self).contacts.first?.approvedDevices?.count == aliceDevices
        }
        for agent in alice {
            try await agent.eventually("bob as a contact, and every sibling") {
                try agent.cli(["contacts"], as: ContactsResult.self).contacts.first?.approvedDevices == ["bob-PC-1"]
                    && agent.cli(["devices"], as: DevicesResult.self).devices.count == aliceDevices
            }
        }
        return (server, alice, bob)
    }

    /// Every outbox is empty and no device holds a viewed-notice.
    static func expectSettled(_ agents: [AgentHarness]) async throws {
        for agent in agents {
            try await agent.eventually("an empty outbox and no held notice") {
                let status = try agent.cli(["status"], as: StatusResult.self)
                return status.pendingNotes == 0 && status.heldNotices == 0
            }
        }
    }
}
