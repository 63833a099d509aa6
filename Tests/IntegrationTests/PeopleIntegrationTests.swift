import Foundation
import KithAPI
import KithTestSupport
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
