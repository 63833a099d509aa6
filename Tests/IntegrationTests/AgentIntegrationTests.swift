#if canImport(Glibc)
import Glibc
#endif
import Foundation
import KithAPI
import KithAgent
import KithCrypto
import KithNet
import KithStore
import NIOPosix
import KithTestSupport
import Testing

/// The walking skeleton end to end: a real server, real agents (one per profile), driven
/// through the CLI as a person or a script would.
@Suite(.serialized, .fewAtATime) struct AgentIntegrationTests {
    @Test func threeDevicesGetIdsSeeEachOtherAndExchangeNotes() async throws {
        let server = try await ServerHarness.start()
        let root = temporaryDirectory("agents")
        let desktop = AgentHarness("desktop", root: root), laptop = AgentHarness("laptop", root: root)
        let phone = AgentHarness("phone", root: root)
        for agent in [desktop, laptop, phone] { try await agent.start() }

        #expect(try desktop.login(server).deviceID == "alice-PC-1")
        #expect(try laptop.login(server).deviceID == "alice-PC-2")
        #expect(try phone.login(server, type: "mobile").deviceID == "alice-MP-1")

        for agent in [desktop, laptop, phone] {
            try await agent.eventually("all three devices online") {
                let list = try agent.cli(["devices"], as: DevicesResult.self)
                return list.devices.count == 3 && list.devices.allSatisfy(\.online)
                    && list.devices.filter(\.isThisDevice).count == 1
            }
        }
        _ = try desktop.cli(["send", "alice-MP-1", "from the desktop"], as: SendResult.self)
        _ = try phone.cli(["send", "alice-PC-1", "from the phone"], as: SendResult.self)
        try await phone.eventually("the desktop's note") { try phone.inbox().map(\.text) == ["from the desktop"] }
        try await desktop.eventually("the phone's note") { try desktop.inbox().map(\.text) == ["from the phone"] }
        #expect(try laptop.inbox().isEmpty)

        // Errors a script can act on.
        #expect(throws: AgentHarness.CLIFailure.self) { _ = try desktop.cli(["send", "alice-PC-9", "x"], as: SendResult.self) }
        let wrong = AgentHarness("stranger", root: root)
        try await wrong.start()
        #expect(throws: AgentHarness.CLIFailure.self) { _ = try wrong.login(server, password: "wrong password") }
        let missing = try KithProcess.run(["devices", "--profile", root.appendingPathComponent("nobody").path])
        #expect(missing.status == 3)
        #expect(missing.stderr.contains("there is no profile"), "an unknown profile is named as such")
    }

    @Test func aNoteToAnOfflineDeviceArrivesWhenItReturns() async throws {
        let server = try await ServerHarness.start()
        let root = temporaryDirectory("offline")
        let laptop = AgentHarness("laptop", root: root), phone = AgentHarness("phone", root: root)
        try await laptop.start()
        try await phone.start()
        _ = try laptop.login(server)
        _ = try phone.login(server, type: "mobile")
        try await laptop.eventually("the phone in the list") {
            try laptop.cli(["devices"], as: DevicesResult.self).devices.count == 2
        }
        phone.kill9()
        _ = try laptop.cli(["send", "alice-MP-1", "while you were away"], as: SendResult.self)
        try await phone.start()
        try await phone.eventually("the note from while it was away") { try phone.inbox().map(\.text) == ["while you were away"] }
    }

    /// kill -9 of the receiver and of the sender in the middle of a stream of notes: every note
    /// arrives exactly once and in order.
    @Test func killNineMidStreamLosesAndDuplicatesNothing() async throws {
        let server = try await ServerHarness.start()
        let root = temporaryDirectory("kill9")
        let sender = AgentHarness("sender", root: root), receiver = AgentHarness("receiver", root: root)
        try await sender.start()
        try await receiver.start()
        _ = try sender.login(server)
        _ = try receiver.login(server)
        try await sender.eventually("the receiver in the list") {
            try sender.cli(["devices"], as: DevicesResult.self).devices.count == 2
        }
        let total = 30
        for i in 0..<total {
            _ = try sender.cli(["send", "alice-PC-2", "note \(i)"], as: SendResult.self)
            if i == 8 { receiver.kill9() }
            if i == 14 { try await receiver.start() }
            if i == 20 {
                sender.kill9()
                try await sender.start()
            }
        }
        let expected = (0..<total).map { "note \($0)" }
        try await receiver.eventually("all \(total) notes", seconds: 30) { try receiver.inbox().count >= total }
        #expect(try receiver.inbox().map(\.text) == expected)
        #expect(try sender.cli(["status"], as: StatusResult.self).pendingNotes == 0)
    }

    @Test func agentsReconnectAfterAServerRestart() async throws {
        let server = try await ServerHarness.start()
        let root = temporaryDirectory("restart")
        // Relay only: with a direct path the note below would not need the server at all.
        let laptop = AgentHarness("laptop", root: root, udp: "off"), phone = AgentHarness("phone", root: root, udp: "off")
        try await laptop.start()
        try await phone.start()
        _ = try laptop.login(server)
        _ = try phone.login(server, type: "mobile")
        try await server.restart()
        for agent in [laptop, phone] {
            try await agent.eventually("reconnected") { try agent.cli(["status"], as: StatusResult.self).connected }
        }
        _ = try laptop.cli(["send", "alice-MP-1", "after the restart"], as: SendResult.self)
        try await phone.eventually("the note after the restart") { try phone.inbox().map(\.text) == ["after the restart"] }

        // What is sent while the server is down waits in the outbox and goes out when it is back.
        server.stop()
        try await laptop.eventually("the server gone") { try !laptop.cli(["status"], as: StatusResult.self).connected }
        let queued = try laptop.cli(["send", "alice-MP-1", "while the server was down"], as: SendResult.self)
        #expect(!queued.relayed)
        #expect(try laptop.cli(["status"], as: StatusResult.self).pendingNotes == 1)
        try await server.startAgain()
        try await phone.eventually("the note from the outage", seconds: 40) {
            try phone.inbox().map(\.text) == ["after the restart", "while the server was down"]
        }
        #expect(try laptop.cli(["status"], as: StatusResult.self).pendingNotes == 0)
        // A second agent for a profile is refused.
        let second = try KithProcess.run(["agent", "--profile", laptop.profile.path, "--foreground"])
        #expect(second.status != 0)
        #expect(second.stderr.contains("already running"))
    }
}

@Suite(.serialized, .fewAtATime) struct AgentSessionTests {
    /// A device that stops talking (SIGSTOP: its socket stays open) is marked offline after the
    /// server's keepalive timeout, and comes back online when it wakes up.
    @Test func aSilentDeviceIsMarkedOfflineWithinTheKeepaliveTimeout() async throws {
        let server = try await ServerHarness.start(extra: ["--keepalive-timeout", "2"])
        let root = temporaryDirectory("keepalive")
        let laptop = AgentHarness("laptop", root: root), phone = AgentHarness("phone", root: root)
        try await laptop.start()
        try await phone.start()
        _ = try laptop.login(server)
        _ = try phone.login(server, type: "mobile")
        func phoneOnline() throws -> Bool? {
            try laptop.cli(["devices"], as: DevicesResult.self).devices.first { $0.id == "alice-MP-1" }?.online
        }
        try await laptop.eventually("the phone online") { try phoneOnline() == true }
        let pid = try #require(phone.process?.process.processIdentifier)
        kill(pid, SIGSTOP)
        let stopped = Date()
        try await laptop.eventually("the phone offline", seconds: 15) { try phoneOnline() == false }
        #expect(Date().timeIntervalSince(stopped) < 15)
        kill(pid, SIGCONT)
        try await laptop.eventually("the phone back online", seconds: 20) { try phoneOnline() == true }
    }

    @Test func signupWhereAllowedAndLogoutEndsTheSession() async throws {
        let open = try await ServerHarness.start(accounts: [:], extra: ["--open-signup"])
        let closed = try await ServerHarness.start(accounts: [:])
        let root = temporaryDirectory("signup")
        let device = AgentHarness("device", root: root)
        try await device.start()
        #expect(throws: AgentHarness.CLIFailure.self) {
            _ = try device.cli(["signup", closed.invite.description, "--account", "carol"], as: EmptyResult.self,
                               stdin: "long enough\n")
        }
        _ = try device.cli(["signup", open.invite.description, "--account", "carol"], as: EmptyResult.self, stdin: "long enough\n")
        #expect(throws: AgentHarness.CLIFailure.self) {  // taken now
            _ = try device.cli(["signup", open.invite.description, "--account", "carol"], as: EmptyResult.self, stdin: "long enough\n")
        }
        #expect(try device.login(open, account: "carol", password: "long enough").deviceID == "carol-PC-1")
        _ = try device.cli(["logout"], as: EmptyResult.self)
        let after = try KithProcess.run(["devices", "--profile", device.profile.path])
        #expect(after.status == 4)
        #expect(try !device.cli(["status"], as: StatusResult.self).connected)
    }
}

@Suite(.fewAtATime) struct TerminalSafetyTests {
    /// A note with an escape sequence shows in `kith inbox` without the ESC byte.
    @Test func peerTextReachesTheTerminalWithoutControlCharacters() async throws {
        let server = try await ServerHarness.start()
        let root = temporaryDirectory("escape")
        let a = AgentHarness("a", root: root), b = AgentHarness("b", root: root)
        try await a.start()
        try await b.start()
        _ = try a.login(server)
        _ = try b.login(server, name: "evil\u{1b}[2Jname")
        try await a.eventually("b in the list") { try a.cli(["devices"], as: DevicesResult.self).devices.count == 2 }
        _ = try b.cli(["send", "alice-PC-1", "clear\u{1b}[2J screen"], as: SendResult.self)
        try await a.eventually("the note") { try a.inbox().count == 1 }
        let inbox = try KithProcess.run(["inbox", "--profile", a.profile.path])
        let devices = try KithProcess.run(["devices", "--profile", a.profile.path])
        #expect(!inbox.stdout.contains("\u{1b}") && inbox.stdout.contains("clear\u{FFFD}[2J screen"))
        #expect(!devices.stdout.contains("\u{1b}"))
    }
}

@Suite(.fewAtATime) struct RevokedTokenTests {
    /// The server stops accepting the agent's token (revoked elsewhere): the agent drops the
    /// session and tells its user to log in again, instead of retrying for ever.
    @Test func aRevokedTokenSendsTheUserBackToLogin() async throws {
        let server = try await ServerHarness.start()
        let root = temporaryDirectory("revoked")
        let laptop = AgentHarness("laptop", root: root)
        try await laptop.start()
        _ = try laptop.login(server)
        try await laptop.eventually("connected") { try laptop.cli(["status"], as: StatusResult.self).connected }

        // Act as the same device from outside: resuming takes the agent's session (it is told
        // another copy did, and waits), logging out revokes the token the agent holds.
        let seed = try Data(contentsOf: laptop.profile.appendingPathComponent("identity.seed"))
        let token = try #require(try AgentStore(path: laptop.profile.appendingPathComponent("agent.sqlite").path).session()).token
        // (Before the agent held back it reconnected at once and could close the twin's session
        // first: the loop stays for an agent that does.)
        var loggedOut = false
        for _ in 0..<10 where !loggedOut {
            let twin = try await ClientConnection.connect(
                host: server.invite.host, port: server.invite.port, remoteStatic: server.invite.key.noisePublicKey!,
                localStatic: try #require(DeviceIdentity(seed: [UInt8](seed))).noiseKeyPair,
                group: MultiThreadedEventLoopGroup.singleton)
            guard case .loginResult? = try? await twin.request(.resume(.init(token: token))).message else { break }
            loggedOut = (try? await twin.request(.logout(.init())).message) == .ack(.init())
            await twin.close()
        }
        #expect(loggedOut)
        try await laptop.eventually("the agent to say another copy took its session") {
            try laptop.cli(["status"], as: StatusResult.self).lastError?.contains("another copy") == true
        }
        // Restarted, it tries its token again and finds it revoked.
        #expect(laptop.terminate() == 0)
        try await laptop.start()
        try await laptop.eventually("the agent to give up the session") {
            try laptop.cli(["status"], as: StatusResult.self).deviceID == nil
        }
        let status = try laptop.cli(["status"], as: StatusResult.self)
        #expect(status.lastError?.contains("kith login") == true)
        let devices = try KithProcess.run(["devices", "--profile", laptop.profile.path])
        #expect(devices.status == 4)
        // Logging in again works, and the device keeps its id.
        #expect(try laptop.login(server).deviceID == "alice-PC-1")
    }
}
