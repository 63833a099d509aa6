import Foundation
import KithAgent
import KithAPI
import KithTestSupport
import KithXMPP
import Testing

/// `kith networks` with a real agent and a real Prosody: an XMPP account is added only once it
/// signed in (a wrong password stores nothing), its roster is stored and kept up to date by
/// pushes, a restart signs in again with the held roster version and receives no items when
/// nothing changed, a change made while the agent was down arrives at the next sign-in, and
/// removing the network forgets it. With TLS, an untrusted certificate is refused with its
/// fingerprint, and adding it again pinned to that fingerprint signs in.
@Suite(.serialized, .fewAtATime, .enabled(if: ProsodyHarness.isInstalled, "Prosody is not installed (Tools/bootstrap installs it)"))
struct XMPPNetworkIntegrationTests {
    func passwordFile(_ root: URL, _ password: String) throws -> String {
        let file = root.appendingPathComponent("xmpp-password-\(UUID().uuidString.prefix(4))")
        try (password + "\n").write(to: file, atomically: true, encoding: .utf8)
        return file.path
    }

    func xmpp(_ agent: AgentHarness) throws -> NetworkEntry? {
        try agent.cli(["networks"], as: NetworksResult.self).networks.first { $0.kind == "xmpp" }
    }

    @Test func anAccountIsAddedKeptUpToDateAcrossRestartsAndRemoved() async throws {
        let prosody = try await ProsodyHarness.start(accounts: ["alice": "correct horse", "bob": "battery staple", "carol": "hunter two"])
        defer { prosody.stop() }
        let domain = prosody.domain
        try prosody.setRosterItem(owner: "alice", contact: "bob@\(domain)", name: "Bob")
        let root = temporaryDirectory("xmpp-network")
        let agent = AgentHarness("alice", root: root)
        try await agent.start()
        let address = "xmpp:alice@\(domain)", server = "127.0.0.1:\(prosody.port)"

        // A wrong password: refused, and nothing is stored.
        #expect {
            _ = try agent.cli(["networks", "add", address, "--server", server, "--password-file", try passwordFile(root, "wrong")],
                              as: NetworkEntry.self)
        } throws: { "\($0)".contains("refused the account or password") }
        #expect(try xmpp(agent) == nil)

        let added = try agent.cli(["networks", "add", address, "--server", server, "--password-file", try passwordFile(root, "correct horse")],
                                  as: NetworkEntry.self)
        #expect(added.address == address && added.state == "online" && added.contacts == 1)
        #expect(added.lastLogin?.rosterItemsReceived == 1)
        let mode = try FileManager.default.attributesOfItem(atPath: agent.profile.appendingPathComponent("agent.sqlite").path)[.posixPermissions] as? Int
        #expect(mode == 0o600, "the store holds the XMPP password: its owner's alone")

        // A push while signed in: carol added by another client of alice's.
        try prosody.setRosterItem(owner: "alice", contact: "carol@\(domain)", name: "Carol")
        try await agent.eventually("carol's roster push") { try xmpp(agent)?.contacts == 2 }

        // A restart: the held version is current, so the server sends no items.
        #expect(agent.terminate() == 0)
        try await agent.start()
        try await agent.eventually("signed in again") { try xmpp(agent)?.state == "online" }
        let again = try #require(try xmpp(agent)?.lastLogin)
        #expect(again.rosterUnchanged && again.rosterItemsReceived == 0)
        #expect(try xmpp(agent)?.contacts == 2)
        print("xmpp re-login through the agent, roster unchanged: \(again.bytesIn) bytes in, \(again.bytesOut) out, \(again.roundTrips) round trips")

        // Changed while the agent was down: bob removed; the next sign-in brings the new roster.
        #expect(agent.terminate() == 0)
        try prosody.removeRosterItem(owner: "alice", contact: "bob@\(domain)")
        try await agent.start()
        try await agent.eventually("the roster without bob") { try xmpp(agent)?.contacts == 1 }
        #expect(try xmpp(agent)?.lastLogin?.rosterItemsReceived == 1)

        // A stranger asks to see alice's presence: it waits for her answer.
        try prosody.register("dave", password: "dave's own")
        let stranger = try await XMPPConnection.connect(host: "127.0.0.1", port: prosody.port, account: try JID(parsing: "dave@\(domain)"),
                                                        password: "dave's own", resource: "desk", rosterVersion: nil)
        stranger.connection.send(XMPPStanza.presence("subscribe", to: try JID(parsing: "alice@\(domain)")))
        try await agent.eventually("dave's request") {
            try agent.cli(["people"], as: PeopleResult.self).requests.map(\.address) == ["xmpp:dave@\(domain)"]
        }
        try await Task.sleep(for: .milliseconds(300))
        #expect(try agent.cli(["people"], as: PeopleResult.self).requests.count == 1, "not approved by itself")
        let allowed = try agent.cli(["people", "allow", "xmpp:dave@\(domain)"], as: PeopleResult.self)
        #expect(allowed.requests.isEmpty)
        var answered = false
        for await item in stranger.connection.incoming {
            if case .subscriptionAnswer(let from, true) = item, from.bare.description == "alice@\(domain)" { answered = true; break }
        }
        #expect(answered, "dave was told yes")
        await stranger.connection.close()
        #expect { _ = try agent.cli(["people", "deny", "xmpp:dave@\(domain)"], as: PeopleResult.self) } throws: { "\($0)".contains("no request waiting") }
        // Allowed, dave was asked back: he is in alice's roster now, waiting for his answer.
        try await agent.eventually("dave in the roster") { try xmpp(agent)?.contacts == 2 }
        try prosody.removeRosterItem(owner: "alice", contact: "dave@\(domain)")
        try await agent.eventually("dave out of the roster again") { try xmpp(agent)?.contacts == 1 }

        // The password changed elsewhere: the network fails and waits for the user; `kith login`
        // alone says so (and fails), and once the password is back it signs in again.
        try prosody.register("alice", password: "changed elsewhere")
        #expect(agent.terminate() == 0)
        try await agent.start()
        try await agent.eventually("the sign-in refused") { try xmpp(agent)?.state == "failed" }
        #expect { _ = try agent.cli(["login"], as: NetworksResult.self) } throws: { "\($0)".contains("1 of 1 networks did not sign in") }
        try prosody.register("alice", password: "correct horse")
        let signedIn = try agent.cli(["login"], as: NetworksResult.self)
        #expect(signedIn.networks.map(\.state) == ["online"])

        _ = try agent.cli(["networks", "remove", address], as: EmptyResult.self)
        #expect(try xmpp(agent) == nil)
        #expect(agent.terminate() == 0)
        try await agent.start()
        #expect(try xmpp(agent) == nil, "a removed network stays removed")
        _ = agent.terminate()
    }

    @Test func anUntrustedCertificateIsShownAndCanBePinned() async throws {
        let prosody = try await ProsodyHarness.start(tls: true)
        defer { prosody.stop() }
        let root = temporaryDirectory("xmpp-network-tls")
        let agent = AgentHarness("alice", root: root)
        try await agent.start()
        let arguments = ["networks", "add", "xmpp:alice@\(prosody.domain)", "--server", "127.0.0.1:\(prosody.port)",
                         "--password-file", try passwordFile(root, "correct horse")]
        let fingerprint = try #require(prosody.certificate).description

        #expect {
            _ = try agent.cli(arguments, as: NetworkEntry.self)
        } throws: { "\($0)".contains("--certificate \(fingerprint)") }
        #expect(try xmpp(agent) == nil)

        let pinned = try agent.cli(arguments + ["--certificate", fingerprint], as: NetworkEntry.self)
        #expect(pinned.state == "online")
        _ = agent.terminate()
    }
}
