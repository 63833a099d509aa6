import Foundation
import KithAPI
import KithTestSupport
import Testing

/// The watcher with alice's agent running (Protocol/local-api.md §Watch): alice watches bob and
/// carol out of three contacts; `kith watch --json` draws a line per change, pushed by the agent,
/// or on its poll; dave (unwatched) costs it nothing; after `kill -9` it draws its last state
/// from its database before the agent answers.
@Suite(.serialized, .fewAtATime) struct WatchIntegrationTests {
    struct Line: Decodable {
        let text: String, tooltip: String, `class`: String, from: String?
        let contacts: [WatchedContact]
        func contact(_ name: String) -> WatchedContact? { contacts.first { $0.account == name } }
    }

    /// The JSON lines a running `kith watch --json` printed so far.
    static func lines(_ watcher: KithProcess) -> [Line] {
        watcher.stdout.split(separator: "\n").compactMap { try? JSONDecoder().decode(Line.self, from: Data($0.utf8)) }
    }

    static func waitForLine(_ watcher: KithProcess, after count: Int = 0, _ what: String, seconds: Double = 20,
                            _ accept: (Line) -> Bool) async throws -> Line {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let line = lines(watcher).dropFirst(count).first(where: accept) { return line }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw KithProcess.ProcessFailure(description: "no watcher line with \(what); output:\n\(watcher.stdout)\n\(watcher.stderr)")
    }

    static func watcher(_ alice: AgentHarness, _ arguments: [String] = []) throws -> KithProcess {
        try KithProcess(["watch", "--profile", alice.profile.path, "--json"] + arguments, in: alice.profile.deletingLastPathComponent(),
                        name: "watch-\(UUID().uuidString.prefix(4))")
    }

    @Test func pushedChangesOfWatchedContactsOnly() async throws {
        let (server, alice, others) = try await Self.people("watch-push")
        let (bob, carol, dave) = (others[0], others[1], others[2])
        let added = try alice.cli(["watch", "add", "bob", "carol"], as: WatchListResult.self)
        #expect(added.watched == ["bob", "carol"])
        let refused = try KithProcess.run(["watch", "add", "mallory", "--profile", alice.profile.path])
        #expect(refused.status == 1 && refused.stderr.contains("not a contact"), "\(refused.stderr)")

        let watcher = try Self.watcher(alice)
        defer { _ = watcher.terminate() }
        let first = try await Self.waitForLine(watcher, "bob and carol") { $0.contacts.count == 2 && $0.from == "agent" }
        #expect(first.contact("bob")?.unread == 0 && first.contact("bob")?.online == true && first.class == "online")

        let sent = Date()
        _ = try bob.cli(["send", "alice", "dinner at eight?\nor nine"], as: SendResult.self)
        let unread = try await Self.waitForLine(watcher, "bob's unread message") { $0.contact("bob")?.unread == 1 }
        print("watch: bob's message showed on alice's watcher \(Int(Date().timeIntervalSince(sent) * 1000)) ms after `kith send`")
        #expect(unread.contact("bob")?.newest == "dinner at eight?" && unread.class == "unread")

        // dave is a contact, not watched: his message reaches alice and the watcher draws nothing.
        let before = Self.lines(watcher).count
        _ = try dave.cli(["send", "alice", "psst"], as: SendResult.self)
        try await alice.eventually("dave's message") { try alice.cli(["inbox"], as: InboxResult.self).unread["dave"] == 1 }
        try await Task.sleep(for: .seconds(1))
        #expect(Self.lines(watcher).count == before, "a message from an unwatched contact drew a line")

        #expect(carol.terminate() == 0)
        _ = try await Self.waitForLine(watcher, "carol offline") { $0.contact("carol")?.online == false }
        _ = try alice.cli(["read", "--all", "bob"], as: ReadResult.self)
        _ = try await Self.waitForLine(watcher, "bob read") { $0.contact("bob")?.unread == 0 }
        withExtendedLifetime(server) {}
    }

    @Test func pollModeAndTheCacheAfterACrash() async throws {
        let (server, alice, others) = try await Self.people("watch-poll")
        _ = try alice.cli(["watch", "add", "bob"], as: WatchListResult.self)
        let watcher = try Self.watcher(alice, ["--poll", "2"])
        _ = try await Self.waitForLine(watcher, "bob") { $0.contact("bob") != nil }
        _ = try others[0].cli(["send", "alice", "polled"], as: SendResult.self)
        try await alice.eventually("bob's message") { try alice.cli(["inbox"], as: InboxResult.self).unread["bob"] == 1 }
        _ = try await Self.waitForLine(watcher, "the next poll") { $0.contact("bob")?.unread == 1 }

        watcher.kill()
        #expect(alice.terminate() == 0)
        // The agent is down: the watcher draws its database first, then catches up through its own session.
        let passwordFile = alice.profile.deletingLastPathComponent().appendingPathComponent("alice-password")
        try "correct horse\n".write(to: passwordFile, atomically: true, encoding: .utf8)
        let restarted = try Self.watcher(alice, ["--password-file", passwordFile.path])
        defer { _ = restarted.terminate() }
        let cached = try await Self.waitForLine(restarted, "the cached state") { _ in true }
        #expect(cached.from == "cache" && cached.contact("bob")?.unread == 1, "the first line after a crash: \(cached)")
        let caughtUp = try await Self.waitForLine(restarted, after: 1, "the server's state") { $0.from == "server" }
        #expect(caughtUp.contact("bob")?.unread == 1, "the server counts what alice's agent reported: \(caughtUp)")
        withExtendedLifetime(server) {}
    }

    /// Without alice's agent the watcher signs in itself (spec §Watch sessions): a watch-only
    /// session; pushes for watched contacts, not a byte for dave; a revoked token and it signs in
    /// again; and while the agent runs it opens no server connection at all.
    @Test func itsOwnSessionWithoutTheAgent() async throws {
        // A 2 s login deadline: a watch session is past it once signed in, and outlives it.
        let (server, alice, others) = try await Self.people("watch-server", serverExtra: ["--login-deadline", "2"])
        let (bob, carol, dave) = (others[0], others[1], others[2])
        _ = try alice.cli(["watch", "add", "bob", "carol"], as: WatchListResult.self)
        let beside = try Self.watcher(alice)
        _ = try await Self.waitForLine(beside, "the agent's state") { $0.from == "agent" }
        _ = beside.terminate()
        #expect(!server.log.contains("watch session"), "a watcher beside the agent opened a server session")

        #expect(alice.terminate() == 0)
        let passwordFile = alice.profile.deletingLastPathComponent().appendingPathComponent("alice-password")
        try "correct horse\n".write(to: passwordFile, atomically: true, encoding: .utf8)
        let watcher = try Self.watcher(alice, ["--password-file", passwordFile.path])
        let first = try await Self.waitForLine(watcher, "the server's state") { $0.from == "server" }
        #expect(first.contact("bob")?.online == true && first.contact("bob")?.unread == 0)
        #expect(server.log.contains("watch session for alice opened"))

        let sent = Date()
        _ = try bob.cli(["send", "alice", "are you there?"], as: SendResult.self)
        _ = try await Self.waitForLine(watcher, "bob's message, pushed") { $0.from == "server" && $0.contact("bob")?.unread == 1 }
        print("watch: bob's message showed on alice's own-session watcher \(Int(Date().timeIntervalSince(sent) * 1000)) ms after `kith send`")

        let pid = watcher.process.processIdentifier
        let lines = Self.lines(watcher).count, before = try Self.bytesReceived(by: pid)
        for n in 0..<5 { _ = try dave.cli(["send", "alice", "unwatched \(n)"], as: SendResult.self) }
        try await Task.sleep(for: .seconds(1))
        let after = try Self.bytesReceived(by: pid)
        print("watch: 5 messages from an unwatched contact cost the watcher \(after - before) bytes")
        #expect(after == before && Self.lines(watcher).count == lines, "dave's messages reached the watcher")

        #expect(carol.terminate() == 0)
        _ = try await Self.waitForLine(watcher, "carol offline, pushed") { $0.contact("carol")?.online == false }
        watcher.kill()

        // Polling, then the token revoked: the watcher signs in again and carries on.
        let polling = try Self.watcher(alice, ["--password-file", passwordFile.path, "--poll", "1"])
        defer { _ = polling.terminate() }
        _ = try await Self.waitForLine(polling, "the server's state") { $0.from == "server" }
        #expect(server.log.contains("watch session for alice resumed"), "the kept token was not used")
        let revoked = try KithProcess.run(["server", "account", "revoke-watchers", "alice", "--data", server.directory.path])
        #expect(revoked.status == 0, "\(revoked.stderr)")
        try await alice.eventually("a new sign-in after the revocation") {
            server.log.components(separatedBy: "watch session for alice opened").count == 3
        }
        _ = try bob.cli(["send", "alice", "still there?"], as: SendResult.self)
        _ = try await Self.waitForLine(polling, "bob's second message after a new sign-in") { $0.contact("bob")?.unread == 2 }

        // alice's agent back: it reports what it holds; read there, the watcher shows it.
        try await alice.start()
        try await alice.eventually("bob's messages") { try alice.cli(["inbox"], as: InboxResult.self).unread["bob"] == 2 }
        _ = try alice.cli(["read", "--all", "bob"], as: ReadResult.self)
        _ = try await Self.waitForLine(polling, "bob read on alice's device") { $0.from == "server" && $0.contact("bob")?.unread == 0 }
        withExtendedLifetime(server) {}
    }

    /// A watcher for another account (mission §5: its password checked, then its contacts
    /// picked), beside alice's agent, which does not hold that account.
    @Test func aWatcherForAnotherAccount() async throws {
        let (server, alice, _) = try await Self.people("watch-other")
        let root = alice.profile.deletingLastPathComponent()
        let wrong = root.appendingPathComponent("wrong"), right = root.appendingPathComponent("carol-password")
        try "not carol's\n".write(to: wrong, atomically: true, encoding: .utf8)
        try "carol's pass\n".write(to: right, atomically: true, encoding: .utf8)
        let invite = server.invite.description, profile = ["--profile", alice.profile.path]
        let refused = try KithProcess.run(["watch", "login", invite, "--account", "carol", "--password-file", wrong.path] + profile)
        #expect(refused.status == 1 && refused.stderr.contains("wrong account or password"), "\(refused.stderr)")
        let login = try KithProcess.run(["watch", "login", invite, "--account", "carol", "--password-file", right.path] + profile)
        #expect(login.status == 0, "\(login.stderr)")
        let notHers = try KithProcess.run(["watch", "add", "bob", "--account", "carol"] + profile)
        #expect(notHers.status == 1 && notHers.stderr.contains("not a contact of carol"), "\(notHers.stderr)")
        let added = try KithProcess.run(["watch", "add", "alice", "--account", "carol", "--json"] + profile)
        #expect(added.status == 0 && added.stdout.contains("\"alice\""), "\(added.stderr)")
        let once = try KithProcess.run(["watch", "--account", "carol", "--once", "--json", "--password-file", right.path] + profile)
        let line = try JSONDecoder().decode(Line.self, from: Data(once.stdout.utf8))
        #expect(line.from == "server" && line.contact("alice")?.online == true, "\(once.stdout) \(once.stderr)")
        // alice's own watcher is untouched: one database per account.
        #expect(try alice.cli(["watch", "list"], as: WatchListResult.self).watched.isEmpty)
        withExtendedLifetime(server) {}
    }

    /// Bytes the process `pid` has received on its TCP sockets (`ss`'s `bytes_received`).
    static func bytesReceived(by pid: Int32) throws -> Int {
        let text = try Program.run("ss", ["-tinpH"]).stdout
        var total = 0, ours = false
        for line in text.split(separator: "\n") {
            if line.contains("users:") { ours = line.contains("pid=\(pid),") }
            guard ours, let range = line.range(of: "bytes_received:") else { continue }
            total += Int(line[range.upperBound...].prefix { $0.isNumber }) ?? 0
        }
        return total
    }

    // MARK: - Set-up

    /// alice, bob, carol and dave, each on one device; bob, carol and dave are alice's contacts.
    static func people(_ name: String, serverExtra: [String] = []) async throws -> (ServerHarness, AgentHarness, [AgentHarness]) {
        let passwords = ["alice": "correct horse", "bob": "battery staple", "carol": "carol's pass", "dave": "dave's pass"]
        let server = try await ServerHarness.start(accounts: passwords, extra: serverExtra)
        let root = temporaryDirectory(name)
        let alice = AgentHarness("alice", root: root)
        let others = ["bob", "carol", "dave"].map { AgentHarness($0, root: root) }
        try await alice.start()
        _ = try alice.login(server)
        for (agent, account) in zip(others, ["bob", "carol", "dave"]) {
            try await agent.start()
            _ = try agent.login(server, account: account, password: passwords[account]!)
            _ = try agent.cli(["contacts", "add", "alice"], as: EmptyResult.self)
            try await alice.eventually("\(account)'s request") {
                try alice.cli(["contacts"], as: ContactsResult.self).contacts.contains { $0.account == account && $0.state == "incoming" }
            }
            _ = try alice.cli(["contacts", "accept", account], as: EmptyResult.self)
            try await agent.eventually("alice's roster") {
                try agent.cli(["contacts"], as: ContactsResult.self).contacts.first?.trust == "unverified"
            }
        }
        try await alice.eventually("three contacts' rosters, and each online") {
            try alice.cli(["contacts"], as: ContactsResult.self).contacts.filter { $0.trust == "unverified" && $0.onlineDevices == 1 }.count == 3
        }
        return (server, alice, others)
    }
}

/// `kith watch add/remove/list --json`.
struct WatchListResult: Decodable {
    let account: String
    let watched: [String]
    let changed: [String]?
}
