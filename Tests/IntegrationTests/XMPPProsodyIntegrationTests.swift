import Foundation
import KithAgent
import KithXMPP
import Testing

/// The agent's XMPP client against a real Prosody on loopback: SCRAM login, the versioned roster
/// (an unchanged one costs one empty answer), roster pushes, presence and messages between two
/// accounts, and a wrong password.
@Suite(.serialized, .enabled(if: ProsodyHarness.isInstalled, "Prosody is not installed (Tools/bootstrap installs it)"))
struct XMPPProsodyIntegrationTests {
    func login(_ prosody: ProsodyHarness, _ name: String, password: String, version: String? = "") async throws -> XMPPConnection.Login {
        try await XMPPConnection.connect(host: "127.0.0.1", port: prosody.port, account: try JID(parsing: "\(name)@\(prosody.domain)"),
                                         password: password, rosterVersion: version)
    }

    /// The next incoming item that `match` picks, within 5 s.
    func next(_ connection: XMPPConnection, _ match: @escaping @Sendable (XMPPIncoming) -> Bool) async throws -> XMPPIncoming {
        try await withThrowingTaskGroup(of: XMPPIncoming?.self) { group in
            group.addTask {
                for await item in connection.incoming where match(item) { return item }
                return nil
            }
            group.addTask {
                try await Task.sleep(for: .seconds(5))
                return nil
            }
            defer { group.cancelAll() }
            guard let item = try await group.next() ?? nil else { throw XMPPError.timedOut }
            return item
        }
    }

    @Test func aReLoginWithAnUnchangedRosterReceivesNoItems() async throws {
        let prosody = try await ProsodyHarness.start()
        defer { prosody.stop() }
        try prosody.setRosterItem(owner: "alice", contact: "bob@\(prosody.domain)", name: "Bob", subscription: "both", groups: ["Friends"])

        let first = try await login(prosody, "alice", password: "correct horse")
        guard case .full(let items, let version?) = first.roster else { Issue.record("\(first.roster)"); return }
        #expect(items == [XMPPRosterItem(jid: try JID(parsing: "bob@\(prosody.domain)"), name: "Bob", subscription: .both, groups: ["Friends"])])
        #expect(first.boundJID.bare == (try JID(parsing: "alice@\(prosody.domain)")))
        let fullCost = first.connection.traffic
        await first.connection.close()

        let again = try await login(prosody, "alice", password: "correct horse", version: version)
        #expect(again.roster == .unchanged)
        let cost = again.connection.traffic
        print("xmpp re-login, roster unchanged: \(cost.bytesIn) bytes in, \(cost.bytesOut) out, \(cost.roundTrips) round trips "
              + "(with the whole 1-item roster: \(fullCost.bytesIn) in, \(fullCost.bytesOut) out)")
        await again.connection.close()

        // Changed between logins: the versioned request brings the new roster.
        try prosody.removeRosterItem(owner: "alice", contact: "bob@\(prosody.domain)")
        let third = try await login(prosody, "alice", password: "correct horse", version: version)
        switch third.roster {
        case .full(let items, _): #expect(items.isEmpty)
        case .unchanged: Issue.record("a changed roster came back unchanged")
        }
        await third.connection.close()
    }

    @Test func rosterPushesPresenceAndMessagesBetweenTwoAccounts() async throws {
        let prosody = try await ProsodyHarness.start()
        defer { prosody.stop() }
        let aliceJID = try JID(parsing: "alice@\(prosody.domain)"), bobJID = try JID(parsing: "bob@\(prosody.domain)")
        try prosody.setRosterItem(owner: "alice", contact: bobJID.description, subscription: "both")
        try prosody.setRosterItem(owner: "bob", contact: aliceJID.description, subscription: "both")
        let alice = try await login(prosody, "alice", password: "correct horse").connection
        let bob = try await login(prosody, "bob", password: "battery staple").connection

        // Alice adds carol: her own server pushes the new item to her.
        let carol = try JID(parsing: "carol@\(prosody.domain)")
        alice.send(XMPPStanza.rosterSet(XMPPRosterItem(jid: carol, name: "Carol"), id: alice.makeID()))
        let push = try await next(alice) { if case .rosterPush = $0 { true } else { false } }
        guard case .rosterPush(let item, _) = push else { return }
        #expect(item.jid == carol && item.name == "Carol")

        // Bob sees alice online (they are subscribed both ways), then gets her message.
        alice.send("<presence><show>away</show></presence>")
        _ = try await next(bob) { if case .presence(let from, true, "away") = $0 { from.bare == aliceJID } else { false } }
        alice.send(XMPPStanza.message(to: bobJID, body: "hello from Kith & co <3", id: "m1"))
        let message = try await next(bob) { if case .message = $0 { true } else { false } }
        guard case .message(let from, let body, let id, _) = message else { return }
        #expect(from.bare == aliceJID && body == "hello from Kith & co <3" && id == "m1")

        await alice.close()
        _ = try await next(bob) { if case .presence(let from, false, _) = $0 { from.bare == aliceJID } else { false } }
        await bob.close()
    }

    @Test func aWrongPasswordIsNotAuthorized() async throws {
        let prosody = try await ProsodyHarness.start()
        defer { prosody.stop() }
        do {
            _ = try await login(prosody, "alice", password: "wrong")
            Issue.record("logged in with a wrong password")
        } catch let error as XMPPError {
            #expect(error == .authenticationFailed("not-authorized"))
        }
    }
}
