import Foundation
import KithAgent
import KithAPI
import KithStore
import KithTestSupport
import KithXMPP
import Testing

/// `kith people` with a real Kith server, a real Prosody and real agents: alice has a Kith
/// account and an XMPP account, and so do bob and carol. The same id on both networks is offered,
/// never bound; alice binds "Bob"; a rejected offer is not offered again over 20 sign-ins; bob
/// removed from her XMPP roster while her agent is down is gone from his person at the next
/// sign-in, and the binding of what stays survives; unbinding gives two people again.
@Suite(.serialized, .fewAtATime, .enabled(if: ProsodyHarness.isInstalled, "Prosody is not installed (Tools/bootstrap installs it)"))
struct PeopleIntegrationTests {
    @Test func twoNetworksMergeOnlyWhereTheUserSays() async throws {
        let server = try await ServerHarness.start(accounts: ["alice": "correct horse", "bob": "battery staple", "carol": "hunter two"])
        let prosody = try await ProsodyHarness.start(accounts: ["alice": "xmpp horse", "bob": "xmpp staple", "carol": "xmpp two"])
        defer { prosody.stop() }
        let domain = prosody.domain
        let root = temporaryDirectory("people")
        let alice = AgentHarness("alice", root: root), bob = AgentHarness("bob", root: root), carol = AgentHarness("carol", root: root)
        for agent in [alice, bob, carol] { try await agent.start() }
        #expect(try alice.login(server).role == "primary")
        #expect(try bob.login(server, account: "bob", password: "battery staple").role == "primary")
        #expect(try carol.login(server, account: "carol", password: "hunter two").role == "primary")
        for (other, agent) in [("bob", bob), ("carol", carol)] {
            _ = try alice.cli(["contacts", "add", other], as: EmptyResult.self)
            _ = try agent.cli(["contacts", "accept", "alice"], as: EmptyResult.self)
            try await alice.eventually("\(other) a contact") {
                try alice.cli(["contacts"], as: ContactsResult.self).contacts.contains { $0.account == other && $0.state == "contact" }
            }
        }

        // Her XMPP roster has bob (named Bob); the XMPP account joins the profile.
        try prosody.setRosterItem(owner: "alice", contact: "bob@\(domain)", name: "Bob")
        let password = root.appendingPathComponent("xmpp-password")
        try "xmpp horse\n".write(to: password, atomically: true, encoding: .utf8)
        let add = ["networks", "add", "xmpp:alice@\(domain)", "--server", "127.0.0.1:\(prosody.port)", "--password-file", password.path]
        _ = try alice.cli(add, as: NetworkEntry.self)

        var people = try alice.cli(["people"], as: PeopleResult.self)
        #expect(Set(people.people.map(\.name)) == ["bob", "Bob", "carol"], "nothing is bound by itself")
        #expect(people.offers.map(\.endpoint) == ["xmpp:bob@\(domain)"] && people.offers.first?.reason == "sameID")
        let new = try alice.cli(["people", "--new"], as: PeopleResult.self)
        #expect(new.people.count == 3)
        #expect(try alice.cli(["people", "--new"], as: PeopleResult.self).people.isEmpty, "seen once listed as new")

        // alice binds Bob: one person, both endpoints, presence per endpoint, no offer left.
        people = try alice.cli(["people", "bind", "Bob", "kith:bob", "xmpp:bob@\(domain)"], as: PeopleResult.self)
        let bobPerson = try #require(people.people.first { $0.name == "Bob" })
        #expect(bobPerson.endpoints.map(\.address).sorted() == ["kith:bob", "xmpp:bob@\(domain)"])
        #expect(people.offers.isEmpty && people.people.count == 2)
        #expect(bobPerson.endpoints.first { $0.address == "kith:bob" }?.presence == "online")

        // carol on XMPP with the same id as her Kith account: offered, rejected, never again.
        try prosody.setRosterItem(owner: "alice", contact: "carol@\(domain)", name: "Carol R.")
        try await alice.eventually("carol offered") {
            try alice.cli(["people"], as: PeopleResult.self).offers.map(\.endpoint) == ["xmpp:carol@\(domain)"]
        }
        people = try alice.cli(["people", "reject", "xmpp:carol@\(domain)", "carol"], as: PeopleResult.self)
        #expect(people.offers.isEmpty && people.people.count == 3)
        for _ in 1...20 {
            _ = try alice.cli(add, as: NetworkEntry.self)  // another sign-in
            let again = try alice.cli(["people"], as: PeopleResult.self)
            #expect(again.offers.isEmpty && again.people.count == 3)
        }

        // bob removed from alice's XMPP roster while her agent is down: gone from Bob at the next
        // sign-in; the person keeps its Kith endpoint and its name.
        #expect(alice.terminate() == 0)
        try prosody.removeRosterItem(owner: "alice", contact: "bob@\(domain)")
        try await alice.start()
        try await alice.eventually("signed in again") {
            try alice.cli(["networks"], as: NetworksResult.self).networks.first { $0.kind == "xmpp" }?.state == "online"
        }
        people = try alice.cli(["people"], as: PeopleResult.self)
        #expect(people.people.first { $0.name == "Bob" }?.endpoints.map(\.address) == ["kith:bob"])

        // Unbind gives two people back, each with its endpoint; they are not offered again.
        people = try alice.cli(["people", "bind", "Carol", "kith:carol", "xmpp:carol@\(domain)"], as: PeopleResult.self)
        #expect(people.people.first { $0.name == "Carol" }?.endpoints.count == 2)
        people = try alice.cli(["people", "unbind", "xmpp:carol@\(domain)"], as: PeopleResult.self)
        #expect(Set(people.people.map(\.name)) == ["Bob", "Carol", "xmpp:carol@\(domain)".replacingOccurrences(of: "xmpp:", with: "")])
        #expect(people.offers.isEmpty)

        // Names the user gave survive a restart (the book is stored).
        #expect(alice.terminate() == 0)
        try await alice.start()
        #expect(Set(try alice.cli(["people"], as: PeopleResult.self).people.map(\.name)).contains("Bob"))
        for agent in [alice, bob, carol] { _ = agent.terminate() }
    }
}

/// Messages to a person over whichever network they are on: bob on Kith (one agent) and on XMPP
/// (another), alice with both in one person. Kith offline and XMPP online → XMPP, with the
/// warning; the other way round → Kith; "Kith only" holds; replies from both networks land in one
/// conversation, each marked with its network; a message over XMPP while alice's agent is down
/// arrives once at her next sign-in.
@Suite(.serialized, .fewAtATime, .enabled(if: ProsodyHarness.isInstalled, "Prosody is not installed (Tools/bootstrap installs it)"))
struct PersonMessagesIntegrationTests {
    @Test func aMessageGoesOverTheNetworkThePersonIsOn() async throws {
        let server = try await ServerHarness.start()
        let prosody = try await ProsodyHarness.start(accounts: ["alice": "xmpp horse", "bob": "xmpp staple"])
        defer { prosody.stop() }
        let domain = prosody.domain
        try prosody.setRosterItem(owner: "alice", contact: "bob@\(domain)", name: "Bob", subscription: "both")
        try prosody.setRosterItem(owner: "bob", contact: "alice@\(domain)", name: "Alice", subscription: "both")
        let root = temporaryDirectory("person-messages")
        let alice = AgentHarness("alice", root: root), bobKith = AgentHarness("bob-kith", root: root)
        let bobXMPP = AgentHarness("bob-xmpp", root: root)
        for agent in [alice, bobKith, bobXMPP] { try await agent.start() }
        #expect(try alice.login(server).role == "primary")
        #expect(try bobKith.login(server, account: "bob", password: "battery staple").role == "primary")
        _ = try alice.cli(["contacts", "add", "bob"], as: EmptyResult.self)
        _ = try bobKith.cli(["contacts", "accept", "alice"], as: EmptyResult.self)
        try await alice.eventually("bob a contact") {
            try alice.cli(["contacts"], as: ContactsResult.self).contacts.contains { $0.account == "bob" && $0.trust == "unverified" }
        }
        func addXMPP(_ agent: AgentHarness, _ name: String, _ password: String) throws {
            let file = root.appendingPathComponent("\(name)-xmpp-password")
            try (password + "\n").write(to: file, atomically: true, encoding: .utf8)
            _ = try agent.cli(["networks", "add", "xmpp:\(name)@\(domain)", "--server", "127.0.0.1:\(prosody.port)",
                               "--password-file", file.path], as: NetworkEntry.self)
        }
        try addXMPP(alice, "alice", "xmpp horse")
        try addXMPP(bobXMPP, "bob", "xmpp staple")
        _ = try alice.cli(["people", "bind", "Bob", "kith:bob", "xmpp:bob@\(domain)"], as: PeopleResult.self)
        func bob() throws -> PersonEntry? { try alice.cli(["people"], as: PeopleResult.self).people.first { $0.name == "Bob" } }
        func presence(_ address: String) throws -> String? { try bob()?.endpoints.first { $0.address == address }?.presence }

        // bob offline on Kith, online on XMPP: over XMPP, and the send says it is not encrypted end to end.
        #expect(bobKith.terminate() == 0)
        try await alice.eventually("bob offline on Kith, online on XMPP") {
            try presence("kith:bob") == "offline" && presence("xmpp:bob@\(domain)") == "online"
        }
        let overXMPP = try alice.cli(["send", "Bob", "hi over xmpp"], as: SendResult.self)
        #expect(overXMPP.network == "xmpp:alice@\(domain)" && overXMPP.warning?.contains("not end-to-end encrypted") == true)
        try await bobXMPP.eventually("alice's message over XMPP") {
            try bobXMPP.cli(["people", "show", "Alice"], as: ConversationResult.self).messages.map(\.text) == ["hi over xmpp"]
        }

        // "Kith only": the same send goes over Kith although bob is offline there (the server keeps it).
        _ = try alice.cli(["people", "kith-only", "Bob", "on"], as: PeopleResult.self)
        let kithOnly = try alice.cli(["send", "Bob", "kith only"], as: SendResult.self)
        #expect(kithOnly.network?.hasPrefix("kith:alice@") == true && kithOnly.warning == nil)
        _ = try alice.cli(["people", "kith-only", "Bob", "off"], as: PeopleResult.self)

        // The other way round: online on Kith, gone from XMPP → over Kith.
        try await bobKith.start()
        #expect(bobXMPP.terminate() == 0)
        try await alice.eventually("bob online on Kith, offline on XMPP") {
            try presence("kith:bob") == "online" && presence("xmpp:bob@\(domain)") == "offline"
        }
        let overKith = try alice.cli(["send", "Bob", "hi over kith"], as: SendResult.self)
        #expect(overKith.network?.hasPrefix("kith:alice@") == true && overKith.warning == nil)

        // Replies from both networks land in one conversation, each with its network.
        _ = try bobKith.cli(["send", "alice", "reply over kith"], as: SendResult.self)
        try await bobXMPP.start()
        try await bobXMPP.eventually("signed in again") {
            try bobXMPP.cli(["networks"], as: NetworksResult.self).networks.first?.state == "online"
        }
        _ = try bobXMPP.cli(["send", "Alice", "reply over xmpp"], as: SendResult.self)
        try await alice.eventually("both replies in one conversation") {
            let texts = try alice.cli(["people", "show", "Bob"], as: ConversationResult.self).messages.map(\.text)
            return texts.contains("reply over kith") && texts.contains("reply over xmpp")
        }
        let conversation = try alice.cli(["people", "show", "Bob"], as: ConversationResult.self).messages
        #expect(conversation.first { $0.text == "reply over kith" }?.endToEnd == true)
        #expect(conversation.first { $0.text == "reply over xmpp" }.map { !$0.endToEnd && $0.endpoint == "xmpp:bob@\(domain)" } == true)
        #expect(conversation.first { $0.text == "hi over xmpp" }?.outgoing == true)
        // `kith inbox` says which network carried each message.
        let inbox = try alice.cli(["inbox"], as: InboxResult.self)
        #expect(inbox.network?.hasPrefix("kith:alice@") == true && inbox.messages.contains { $0.text == "reply over kith" })
        #expect(inbox.xmpp?.first { $0.text == "reply over xmpp" }.map { $0.network == "xmpp:alice@\(domain)" && !$0.endToEnd } == true)
        #expect(inbox.xmpp?.contains { $0.text == "hi over xmpp" } == false, "the inbox holds what was received")

        // Written over XMPP while alice's agent is down: arrives once at her next sign-in, and a
        // later one does not bring it again.
        #expect(alice.terminate() == 0)
        _ = try bobXMPP.cli(["send", "Alice", "while you were away"], as: SendResult.self)
        for _ in 1...2 {
            try await alice.start()
            try await alice.eventually("the message written while away") {
                try alice.cli(["people", "show", "Bob"], as: ConversationResult.self).messages.contains { $0.text == "while you were away" }
            }
            try await Task.sleep(for: .milliseconds(300))
            let copies = try alice.cli(["people", "show", "Bob"], as: ConversationResult.self).messages.filter { $0.text == "while you were away" }
            #expect(copies.count == 1)
            #expect(alice.terminate() == 0)
        }

        // Taken first by another client of alice's (her phone), so the server keeps no offline
        // copy for the agent: it comes from the archive at the next sign-in, once.
        _ = try bobXMPP.cli(["send", "Alice", "read on the phone first"], as: SendResult.self)
        let phone = try await XMPPConnection.connect(host: "127.0.0.1", port: prosody.port, account: try JID(parsing: "alice@\(domain)"),
                                                     password: "xmpp horse", resource: "phone", rosterVersion: nil)
        let onPhone = try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                for await item in phone.connection.incoming {
                    if case .message(_, "read on the phone first", _, _) = item { return true }
                }
                return false
            }
            group.addTask { try await Task.sleep(for: .seconds(10)); return false }
            defer { group.cancelAll() }
            return try await group.next() ?? false
        }
        #expect(onPhone, "the phone took the offline message")
        await phone.connection.close()
        for _ in 1...2 {
            try await alice.start()
            try await alice.eventually("the message the phone took, from the archive") {
                try alice.cli(["people", "show", "Bob"], as: ConversationResult.self).messages.contains { $0.text == "read on the phone first" }
            }
            try await Task.sleep(for: .milliseconds(300))
            let copies = try alice.cli(["people", "show", "Bob"], as: ConversationResult.self).messages
            #expect(copies.filter { $0.text == "read on the phone first" }.count == 1)
            for text in ["while you were away", "hi over xmpp", "reply over xmpp"] {
                #expect(copies.filter { $0.text == text }.count == 1, "the archive does not bring back \(text), which came live")
            }
            #expect(alice.terminate() == 0)
        }

        // Unbinding gives two people back, each with its own history.
        try await alice.start()
        _ = try alice.cli(["people", "unbind", "xmpp:bob@\(domain)"], as: PeopleResult.self)
        let kithSide = try alice.cli(["people", "show", "Bob"], as: ConversationResult.self)
        let xmppSide = try alice.cli(["people", "show", "bob@\(domain)"], as: ConversationResult.self)
        #expect(kithSide.person.endpoints.map(\.address) == ["kith:bob"] && kithSide.messages.allSatisfy { $0.endpoint == "kith:bob" })
        #expect(kithSide.messages.map(\.text) == ["reply over kith"])
        #expect(xmppSide.messages.allSatisfy { $0.endpoint == "xmpp:bob@\(domain)" } && xmppSide.messages.count == 4)
        #expect(alice.terminate() == 0)
        for agent in [bobKith, bobXMPP] { _ = agent.terminate() }
    }
}

/// Two Kith servers are two networks: alice's family server and her company's, bob on both. The
/// same account name on both is offered, never bound, and each server's bob stays its own until
/// alice binds them; a message to the bound person then goes over the server bob is online on.
@Suite(.serialized, .fewAtATime) struct TwoKithNetworksPeopleIntegrationTests {
    @Test func theSameAccountOnTwoKithServersIsOfferedAndBoundByTheUser() async throws {
        let family = try await ServerHarness.start()
        let company = try await ServerHarness.start()
        let root = temporaryDirectory("two-kith-people")
        let alice = AgentHarness("alice", root: root), bobHome = AgentHarness("bob-home", root: root)
        let bobWork = AgentHarness("bob-work", root: root)
        for agent in [alice, bobHome, bobWork] { try await agent.start() }
        for server in [family, company] { #expect(try alice.login(server).role == "primary") }
        #expect(try bobHome.login(family, account: "bob", password: "battery staple").role == "primary")
        #expect(try bobWork.login(company, account: "bob", password: "battery staple").role == "primary")
        let familyOwner = AgentStore.owner(account: "alice", invite: family.invite.description)
        let companyOwner = AgentStore.owner(account: "alice", invite: company.invite.description)
        for (owner, bob) in [(familyOwner, bobHome), (companyOwner, bobWork)] {
            _ = try alice.cli(["contacts", "add", "bob", "--account", owner], as: EmptyResult.self)
            _ = try bob.cli(["contacts", "accept", "alice"], as: EmptyResult.self)
            try await alice.eventually("bob a contact on \(owner)") {
                try alice.cli(["contacts", "--account", owner], as: ContactsResult.self).contacts.contains { $0.account == "bob" && $0.trust == "unverified" }
            }
        }

        var people = try alice.cli(["people"], as: PeopleResult.self)
        #expect(people.people.count == 2 && people.people.allSatisfy { $0.name == "bob" && $0.endpoints.count == 1 })
        #expect(people.offers.count == 1 && people.offers.first?.reason == "sameID")
        let networks = try alice.cli(["networks"], as: NetworksResult.self).networks
        #expect(Set(networks.map(\.address)) == ["kith:\(familyOwner)", "kith:\(companyOwner)"])

        // "kith:bob" is on both networks: it must be named with the account it is seen from.
        #expect { _ = try alice.cli(["people", "bind", "Bob", "kith:bob"], as: PeopleResult.self) } throws: { "\($0)".contains("several networks") }
        people = try alice.cli(["people", "bind", "Bob", "kith:bob@\(familyOwner)", "kith:bob@\(companyOwner)"], as: PeopleResult.self)
        #expect(people.people.count == 1 && people.people[0].endpoints.count == 2 && people.offers.isEmpty)
        for agent in [alice, bobHome, bobWork] { _ = agent.terminate() }
    }
}
