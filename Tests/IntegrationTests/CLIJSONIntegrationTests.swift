#if canImport(Glibc)
import Glibc
#endif
import Foundation
import KithAPI
import KithTestSupport
import Testing

/// `--json` that scripts can rely on: every verb that takes it, run against a real server and
/// agents, prints one JSON document (a long-running one: JSON lines) with the documented fields in
/// their JSON types, and every failure prints `{"error": {"code", "message"}}` on stdout with a
/// non-zero exit status (Protocol/local-api.md §The CLI's JSON).
@Suite(.serialized, .fewAtATime) struct CLIJSONIntegrationTests {
    @Test func withoutAnAgentTheCommandsThatNeedNoneAnswerAndTheOthersFailAsJSON() throws {
        let root = temporaryDirectory("json-offline")
        let cli = JSONCLI(root.appendingPathComponent("laptop"))

        let identity = try cli.object(["identity", "--short"])  // --json wins over --short
        #expect(JSONType.wrong(identity, ["fingerprint": "s", "ed25519": "s", "x25519": "s", "created": "b"]).isEmpty)

        // Settings typed as in the file: a number, a boolean, a list.
        #expect(try cli.object(["config", "set", "offer-timeout", "30"])["offer-timeout"] as? Int == 30)
        _ = try cli.object(["config", "set", "lan-discovery", "false"])
        _ = try cli.object(["config", "set", "receive-from", "alice-PC-1=ask,alice-PC-2=reject"])
        let settings = try cli.object(["config", "get"])
        #expect(JSONType.wrong(settings, ["offer-timeout": "n", "lan-discovery": "b", "receive-from": "a"]).isEmpty)
        #expect(try cli.object(["config", "get", "udp"])["udp"] is NSNull)
        #expect(try cli.object(["config", "unset", "offer-timeout"])["offer-timeout"] is NSNull)
        #expect(JSONType.isString(try cli.object(["config", "path"])["path"]))
        #expect(try cli.error(["config", "set", "offer-timeout", "soon"]) == (1, "invalidSetting"))
        #expect(try cli.error(["config", "get", "colour"]) == (1, "invalidSetting"))

        // No agent: exit 3, code agentNotRunning; `status` says what the profile holds, with the same error.
        #expect(try cli.error(["devices"]) == (3, "agentNotRunning"))
        #expect(try cli.error(["status"]) == (3, "agentNotRunning"))
        // A malformed command line: exit 64.
        #expect(try cli.error(["send", "alice-MP-1"]) == (64, "invalidArguments"))
        #expect(try cli.error(["push", "--to"]) == (64, "invalidArguments"))
    }

    @Test func everyVerbPrintsOneTypedDocumentAndEveryFailureACode() async throws {
        let server = try await ServerHarness.start()
        let root = temporaryDirectory("json-verbs")
        let laptop = AgentHarness("laptop", root: root), phone = AgentHarness("phone", root: root), desk = AgentHarness("desk", root: root)
        for agent in [laptop, phone, desk] { try await agent.start() }
        let (alice, bob) = (JSONCLI(laptop.profile), JSONCLI(desk.profile))

        let login = try bob.object(["login", server.invite.description, "--account", "bob", "--name", "desk"], stdin: "battery staple\n")
        #expect(JSONType.wrong(login, ["account": "s", "deviceID": "s", "role": "s", "fingerprint": "s", "recoveryKey": "s"]).isEmpty)
        #expect(try bob.error(["login", server.invite.description, "--account", "bob"], stdin: "wrong\n") == (1, "serverRefused"))
        #expect(try bob.error(["signup", server.invite.description, "--account", "carol"], stdin: "a long password\n").status == 1)
        _ = try laptop.login(server)
        _ = try phone.login(server, type: "mobile")

        let status = try alice.object(["status"])
        #expect(JSONType.wrong(status, ["pid": "n", "connected": "b", "pendingNotes": "n", "heldNotices": "n", "accounts": "a",
                                        "deviceID": "s", "role": "s", "sessionExpiresAtMillis": "n"]).isEmpty)

        try Self.checkDevices(alice)
        #expect(try alice.array(["devices", "--pending"]).isEmpty)
        for entry in try alice.array(["status", "--paths"]) { #expect(JSONType.wrong(entry, ["id": "s", "path": "s", "online": "b"]).isEmpty) }
        let accounts = try alice.object(["accounts"])
        for entry in accounts["accounts"] as? [[String: Any]] ?? [] {
            #expect(JSONType.wrong(entry, ["account": "s", "role": "s", "unread": "o", "unreadTotal": "n", "connected": "b", "linked": "a"]).isEmpty)
        }
        let discover = try alice.object(["discover", "--timeout", "0"])
        #expect(JSONType.wrong(discover, ["services": "a", "problem": "s?"]).isEmpty)

        try await Self.checkMessages(alice, bob, laptop: laptop, desk: desk)
        try await Self.checkEvents(alice, phone: phone)
        try Self.checkRoster(alice)
        try await Self.checkPending(alice, server: server, root: root)

        // Refusals, each with its code and nothing changed.
        #expect(try alice.error(["accept", "00000000"]) == (1, "unknownTransfer"))
        #expect(try alice.error(["send", "alice-XX-9", "hello"]) == (1, "unknownDevice"))
        #expect(try alice.error(["contacts", "remove", "nobody"]).status == 1)
        #expect(try alice.error(["revoke", "alice-XX-9"]).status == 1)
        #expect(try alice.error(["approve", "alice-XX-9"]).status == 1)
        #expect(try alice.error(["deny", "alice-XX-9"]).status == 1)
        #expect(try alice.error(["primary", "hand-over", "alice-XX-9"]).status == 1)
        #expect(try alice.error(["policy", "set", "alice-MP-1", "receive=sometimes"]).status == 1)
        #expect(try alice.error(["accounts", "link", "bob"], stdin: "wrong\n") == (1, "serverRefused"))
        #expect(try alice.error(["accounts", "unlink", "bob"]).status == 1)
        #expect(try alice.error(["accounts", "set-master", "bob"], stdin: "wrong\n").status == 1)
        #expect(try alice.error(["transfers", "--follow", "00000000"]) == (1, "unknownTransfer"))
        #expect(try JSONCLI(phone.profile).error(["primary", "recover"], stdin: "not a key\n").status == 1)

        // Logged out: `{}`, then exit 4, notLoggedIn.
        #expect(try bob.object(["logout"]).isEmpty)
        #expect(try bob.error(["devices"]) == (4, "notLoggedIn"))
        withExtendedLifetime(server) {}
    }

    // MARK: - Parts of the walk

    /// `devices`: typed fields, a role for each, and no row that contradicts itself.
    static func checkDevices(_ cli: JSONCLI) throws {
        let devices = try cli.object(["devices"])
        let rows = devices["devices"] as? [[String: Any]] ?? []
        #expect(rows.count == 2)
        for row in rows {
            #expect(JSONType.wrong(row, ["id": "s", "name": "s", "type": "s", "role": "s", "online": "b", "lastSeenMillis": "n",
                                         "fingerprint": "s", "path": "s", "isThisDevice": "b", "rttMillis": "n?"]).isEmpty)
            if ["lan", "direct", "self"].contains(row["path"] as? String) { #expect(row["online"] as? Bool == true) }
        }
        #expect(rows.first { $0["isThisDevice"] as? Bool == true }?["role"] as? String == "primary")
        #expect(rows.first { $0["id"] as? String == "alice-MP-1" }?["role"] as? String == "secondary")
    }

    /// Notes, contacts, messages, inbox and read.
    static func checkMessages(_ alice: JSONCLI, _ bob: JSONCLI, laptop: AgentHarness, desk: AgentHarness) async throws {
        let note = try alice.object(["send", "alice-MP-1", "a note"])
        #expect(JSONType.wrong(note, ["noteID": "s", "to": "s", "relayed": "b"]).isEmpty)
        #expect(try alice.object(["contacts", "add", "bob"]).isEmpty)
        #expect(try bob.object(["contacts", "accept", "alice"]).isEmpty)
        try await laptop.eventually("bob's roster") {
            (try alice.object(["contacts"])["contacts"] as? [[String: Any]])?.first?["trust"] as? String == "unverified"
        }
        let contact = try #require((try alice.object(["contacts"])["contacts"] as? [[String: Any]])?.first)
        #expect(JSONType.wrong(contact, ["account": "s", "state": "s", "devices": "a", "onlineDevices": "n", "unread": "n",
                                         "trust": "s", "approvedDevices": "a?"]).isEmpty)
        let code = try alice.object(["contacts", "verify", "bob"])
        #expect(JSONType.wrong(code, ["contact": "s", "code": "s", "trust": "s", "verified": "b"]).isEmpty)
        let trust = try alice.run(["contacts", "trust", "bob"])  // no key change waits: a refusal or the same code
        if trust.status == 0 {
            #expect(JSONType.wrong(trust.json as? [String: Any] ?? [:], ["contact": "s", "code": "s", "trust": "s"]).isEmpty)
        } else {
            _ = try JSONCLI.errorCode(trust.status, trust.stdout, stderr: trust.stderr, command: ["contacts", "trust"])
        }
        let sent = try alice.object(["send", "bob", "lunch?"])
        #expect(JSONType.wrong(sent, ["noteID": "s", "relayed": "b", "devices": "a", "code": "n?"]).isEmpty)
        try await desk.eventually("the message") { ((try bob.object(["inbox"])["messages"] as? [Any])?.count ?? 0) == 1 }
        let inbox = try bob.object(["inbox"])
        #expect(JSONType.wrong(inbox, ["notes": "a", "messages": "a", "unread": "o"]).isEmpty)
        let message = try #require((inbox["messages"] as? [[String: Any]])?.first)
        #expect(JSONType.wrong(message, ["code": "n", "from": "s", "contact": "s", "text": "s", "sentAtMillis": "n", "viewed": "b"]).isEmpty)
        let read = try bob.object(["read", "\(message["code"] as? Int ?? 0)"])
        #expect(JSONType.wrong(read, ["messages": "a", "newlyViewed": "n"]).isEmpty)
        #expect(try bob.error(["read", "999999"]) == (1, "unknownMessage"))
    }

    /// `events --json`: JSON lines, one object each, with `event` and `account`.
    static func checkEvents(_ alice: JSONCLI, phone: AgentHarness) async throws {
        let events = try KithProcess(["events", "--profile", phone.profile.path, "--json"], in: phone.profile.deletingLastPathComponent(),
                                     name: "events-\(UUID().uuidString.prefix(4))")
        defer { events.kill() }
        try await Task.sleep(for: .milliseconds(500))  // subscribed before the note
        _ = try alice.object(["send", "alice-MP-1", "for the events"])
        try await phone.eventually("a note event") { events.stdout.contains(#""event":"note""#) }
        for line in try JSONCLI.lines(events.stdout) { #expect(JSONType.wrong(line, ["event": "s", "account": "s"]).isEmpty) }
    }

    /// A device waiting for approval: it calls nobody pending and the primary "primary" (or
    /// "unknown" before its first roster); the primary lists it, typed, and denies it.
    static func checkPending(_ alice: JSONCLI, server: ServerHarness, root: URL) async throws {
        let tv = AgentHarness("tv", root: root)
        try await tv.start()
        defer { _ = tv.terminate() }
        let waiting = try tv.login(server, type: "tv", approve: false)
        #expect(waiting.role == "pending")
        let own = JSONCLI(tv.profile)
        #expect(!(try own.array(["devices", "--pending"])).contains { $0["id"] as? String == "alice-PC-1" })
        let seen = (try own.object(["devices"])["devices"] as? [[String: Any]])?.first { $0["id"] as? String == "alice-PC-1" }
        #expect(["primary", "unknown"].contains(seen?["role"] as? String), "\(seen ?? [:])")
        try await tv.eventually("the tv to be pending on the primary") {
            try alice.array(["devices", "--pending"]).contains { $0["id"] as? String == waiting.deviceID }
        }
        for entry in try alice.array(["devices", "--pending"]) {
            #expect(JSONType.wrong(entry, ["id": "s", "name": "s", "fingerprint": "s", "online": "b"]).isEmpty)
        }
        let denied = try alice.object(["deny", waiting.deviceID])
        #expect(JSONType.wrong(denied, ["members": "a", "pending": "a", "role": "s", "note": "s?"]).isEmpty)
    }

    /// `policy` and the roster verbs: settings as an object as well as lines.
    static func checkRoster(_ alice: JSONCLI) throws {
        let set = try alice.object(["policy", "set", "alice-MP-1", "messages=silent"])
        let policy = try #require((set["policies"] as? [[String: Any]])?.first)
        #expect(JSONType.wrong(policy, ["device": "s", "version": "n", "settings": "a", "values": "o"]).isEmpty)
        #expect((policy["values"] as? [String: String])?["messages"] == "silent")
        let shown = try alice.object(["policy", "show"])
        #expect(JSONType.isArray(shown["policies"]))
        let auto = try alice.object(["approve", "--auto", "off"])
        #expect(JSONType.wrong(auto, ["account": "s", "role": "s", "deviceID": "s", "members": "a", "pending": "a", "roster": "s"]).isEmpty)
        for member in auto["members"] as? [[String: Any]] ?? [] {
            #expect(JSONType.wrong(member, ["id": "s", "name": "s", "role": "s", "fingerprint": "s"]).isEmpty)
        }
    }
}
