import Foundation
import KithAPI
import KithAgent
import KithTestSupport
import Testing

/// SIGTERM (what systemd and `kill` send) ends the agent and the server cleanly: exit status 0,
/// a line in the log, the agent's socket gone, the store's log folded in; and nothing is lost:
/// a burst of notes cut by the receiver's stop arrives once each after it starts again.
@Suite(.serialized, .fewAtATime) struct ShutdownIntegrationTests {
    @Test func aStoppedAgentLosesNothingAndLeavesNoSocket() async throws {
        let (server, laptop, phone, _) = try await FileTransferIntegrationTests.pair("stop-agent")
        let texts = (1...30).map { "note \($0)" }
        for (n, text) in texts.enumerated() {
            _ = try laptop.cli(["send", "alice-MP-1", text], as: SendResult.self)
            if n == 10 {
                #expect(phone.terminate() == 0, "the phone's agent exits 0 on SIGTERM")
            }
        }
        let log = try String(contentsOf: phone.profile.appendingPathComponent("agent.log"), encoding: .utf8)
        #expect(log.contains("stopping on SIGTERM") && log.contains("stopped: socket removed"))
        #expect(!FileManager.default.fileExists(atPath: phone.profile.appendingPathComponent("agent.sock").path), "no socket left")
        let wal = (try? FileManager.default.attributesOfItem(atPath: phone.profile.appendingPathComponent("agent.sqlite-wal").path)[.size]
            as? Int) ?? 0
        #expect(wal == 0, "the write-ahead log was folded into the store")

        try await phone.start()
        try await phone.eventually("every note on the phone") { Set(try phone.inbox().map(\.text)).isSuperset(of: texts) }
        let received = try phone.inbox().map(\.text)
        #expect(received.count == texts.count, "each note once: \(received.count) for \(texts.count)")
        withExtendedLifetime(server) {}
    }

    @Test func aStoppedServerSaysSoAndAgentsComeBack() async throws {
        let (server, laptop, phone, _) = try await FileTransferIntegrationTests.pair("stop-server")
        #expect(server.process.terminate() == 0, "the server exits 0 on SIGTERM")
        #expect(server.log.contains("stopping on SIGTERM") && server.log.contains("stopped: store closed"))
        try await server.startAgain()
        try await laptop.eventually("the laptop back on the server") { try laptop.cli(["status"], as: StatusResult.self).connected }
        _ = try laptop.cli(["send", "alice-MP-1", "after the restart"], as: SendResult.self)
        try await phone.eventually("the note") { try phone.inbox().contains { $0.text == "after the restart" } }
    }
}
