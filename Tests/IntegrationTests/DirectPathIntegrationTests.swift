#if canImport(Glibc)
import Glibc
#endif
import Foundation
import KithAPI
import KithAgent
import KithTestSupport
import Testing

/// Direct paths between real agents on loopback (spec §Path choice): the network lab in
/// `Tools/netlab` puts them behind real NATs; here they share one host, which is a LAN.
@Suite(.serialized, .fewAtATime) struct DirectPathIntegrationTests {
    /// Two devices find each other directly; with the server stopped, and after both restart
    /// without it, notes still flow, from the addresses they cached.
    @Test func siblingsGoDirectAndKeepTalkingWithoutTheServer() async throws {
        let (server, laptop, phone) = try await Self.laptopAndPhone("direct")
        try await Self.waitForPath("lan", from: phone, to: "alice-PC-1")

        server.stop()
        _ = try laptop.cli(["send", "alice-MP-1", "the server is gone"], as: SendResult.self)
        try await phone.eventually("the note, directly") { try phone.inbox().map(\.text) == ["the server is gone"] }

        laptop.kill9()
        phone.kill9()
        try await laptop.start()
        try await phone.start()
        try await Self.waitForPath("lan", from: phone, to: "alice-PC-1")
        _ = try phone.cli(["send", "alice-PC-1", "both restarted, still no server"], as: SendResult.self)
        try await laptop.eventually("the note, directly") { try laptop.inbox().map(\.text) == ["both restarted, still no server"] }
        #expect(try laptop.cli(["status"], as: StatusResult.self).pendingNotes == 0)
    }

    /// The receiver goes silent (SIGSTOP): the sender falls back to the relay within 5 s, what it
    /// sends meanwhile arrives exactly once when the receiver wakes, and the path goes direct again.
    @Test func aSilentPathFallsBackToTheRelayAndUpgradesAgain() async throws {
        let (server, laptop, phone) = try await Self.laptopAndPhone("failover")
        _ = try laptop.cli(["send", "alice-MP-1", "before"], as: SendResult.self)

        let pid = try #require(phone.process?.process.processIdentifier)
        kill(pid, SIGSTOP)
        let stopped = Date()
        _ = try laptop.cli(["send", "alice-MP-1", "during 1"], as: SendResult.self)
        try await Self.waitForPath("relay", from: laptop, to: "alice-MP-1", seconds: 10)
        let failover = Date().timeIntervalSince(stopped)
        #expect(failover < 5, "fell back after \(failover) s")
        _ = try laptop.cli(["send", "alice-MP-1", "during 2"], as: SendResult.self)
        kill(pid, SIGCONT)
        try await phone.eventually("every note once, in order") {
            try phone.inbox().map(\.text) == ["before", "during 1", "during 2"]
        }
        try await Self.waitForPath("lan", from: laptop, to: "alice-MP-1", seconds: 20)
        _ = try laptop.cli(["send", "alice-MP-1", "after"], as: SendResult.self)
        try await phone.eventually("the note after") { try phone.inbox().map(\.text) == ["before", "during 1", "during 2", "after"] }
        _ = server
        print("direct path failover to the relay: \(String(format: "%.2f", failover)) s")
    }

    @Test func relayOnlyAgentsSayWhy() async throws {
        let server = try await ServerHarness.start()
        let root = temporaryDirectory("relayonly")
        let laptop = AgentHarness("laptop", root: root, udp: "off"), phone = AgentHarness("phone", root: root)
        try await laptop.start()
        try await phone.start()
        _ = try laptop.login(server)
        _ = try phone.login(server, type: "mobile")
        try await laptop.eventually("the phone listed") {
            try laptop.cli(["devices"], as: DevicesResult.self).devices.first { $0.id == "alice-MP-1" }?.pathDetail?
                .contains("--udp off") == true
        }
        _ = try laptop.cli(["send", "alice-MP-1", "through the server"], as: SendResult.self)
        try await phone.eventually("the note") { try phone.inbox().map(\.text) == ["through the server"] }
    }

    /// A server, and alice's laptop and phone logged in and on a direct path to each other.
    /// alice's laptop (alice-PC-1) and phone (alice-MP-1) logged in to a new server (`serverExtra`
    /// on its command line); with `udp` "off" both are relay only, else it waits for their `lan` path.
    static func laptopAndPhone(_ name: String, udp: String = "127.0.0.1:0",
                               serverExtra: [String] = []) async throws -> (ServerHarness, AgentHarness, AgentHarness) {
        let server = try await ServerHarness.start(extra: serverExtra)
        let root = temporaryDirectory(name)
        let laptop = AgentHarness("laptop", root: root, udp: udp), phone = AgentHarness("phone", root: root, udp: udp)
        try await laptop.start()
        try await phone.start()
        _ = try laptop.login(server)
        _ = try phone.login(server, type: "mobile")
        if udp != "off" { try await waitForPath("lan", from: laptop, to: "alice-MP-1") }
        return (server, laptop, phone)
    }

    static func waitForPath(_ path: String, from agent: AgentHarness, to device: String, seconds: Double = 20) async throws {
        try await agent.eventually("path \(path) to \(device)", seconds: seconds) {
            try agent.cli(["devices"], as: DevicesResult.self).devices.first { $0.id == device }?.path == path
        }
    }
}
