import Foundation
import KithAPI
import KithTestSupport
import Testing

/// A hostile XMPP server as one of the profile's networks, beside a Kith account: before
/// authentication (an entity bomb) the network is refused with a typed error and nothing is
/// stored; after login (a 100 MB roster push, sent again at every reconnect) the network ends
/// each connection with a typed error and tries again later, while Kith messages keep flowing
/// through the same agent.
@Suite(.serialized, .fewAtATime) struct XMPPHostileNetworkIntegrationTests {
    @Test func aHostileXMPPServerDoesNotHoldUpKith() async throws {
        let kith = try await ServerHarness.start()
        let root = temporaryDirectory("xmpp-hostile-network")
        let alice = AgentHarness("alice", root: root), bob = AgentHarness("bob", root: root)
        for agent in [alice, bob] { try await agent.start() }
        #expect(try alice.login(kith).role == "primary")
        #expect(try bob.login(kith, account: "bob", password: "battery staple").role == "primary")
        _ = try alice.cli(["contacts", "add", "bob"], as: EmptyResult.self)
        _ = try bob.cli(["contacts", "accept", "alice"], as: EmptyResult.self)
        try await alice.eventually("bob a contact with keys") {
            try alice.cli(["contacts"], as: ContactsResult.self).contacts.contains { $0.account == "bob" && $0.trust == "unverified" }
        }
        let password = root.appendingPathComponent("password")
        try "secret\n".write(to: password, atomically: true, encoding: .utf8)
        func add(_ server: HostileXMPPServer) throws -> NetworkEntry {
            try alice.cli(["networks", "add", "xmpp:alice@evil.test", "--server", "127.0.0.1:\(server.port)",
                           "--password-file", password.path], as: NetworkEntry.self)
        }

        // Before authentication: refused, typed, nothing stored.
        let early = try await HostileXMPPServer(attack: .bytes(XMPPHostileServerTests.bomb + HostileXMPPServer.header), when: .beforeAuthentication)
        #expect { _ = try add(early) } throws: { "\($0)".contains("the server sent XML this client refuses") }
        early.stop()
        #expect(try alice.cli(["networks"], as: NetworksResult.self).networks.allSatisfy { $0.kind == "kith" })

        // After login: a 100 MB roster push at every connection.
        let hostile = try await HostileXMPPServer(attack: .endless(prefix: XMPPHostileServerTests.push, totalBytes: 100 << 20), when: .afterLogin)
        defer { hostile.stop() }
        _ = try add(hostile)
        try await alice.eventually("the network ended by the attack") {
            let entry = try alice.cli(["networks"], as: NetworksResult.self).networks.first { $0.kind == "xmpp" }
            return entry?.problem?.contains("refuses") == true
        }

        // Meanwhile Kith round trips through the same agent: alice → bob → alice.
        for round in 1...3 {
            let started = Date()
            _ = try alice.cli(["send", "bob", "ping \(round)"], as: SendResult.self)
            try await bob.eventually("ping \(round)") {
                try bob.cli(["inbox"], as: InboxResult.self).messages.contains { $0.text == "ping \(round)" }
            }
            _ = try bob.cli(["send", "alice", "pong \(round)"], as: SendResult.self)
            try await alice.eventually("pong \(round)") {
                try alice.cli(["inbox"], as: InboxResult.self).messages.contains { $0.text == "pong \(round)" }
            }
            print("kith round trip \(round) while the XMPP network is under attack: \(Int(Date().timeIntervalSince(started) * 1000)) ms (CLI and polling included)")
        }
        for agent in [alice, bob] { _ = agent.terminate() }
    }
}
