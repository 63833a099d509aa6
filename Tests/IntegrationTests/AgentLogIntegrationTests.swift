import Foundation
import KithAPI
import KithTestSupport
import Testing

/// The agent's log as a service's log: its level, a file kept under a size, reopened on SIGHUP,
/// and a long server outage said once, not at every retry.
@Suite(.serialized, .fewAtATime) struct AgentLogIntegrationTests {
    @Test func theLogHasALevelASizeAndReopensOnHangUp() async throws {
        let root = temporaryDirectory("log")
        let profile = root.appendingPathComponent("laptop")
        let agent = try KithProcess(["agent", "--profile", profile.path, "--foreground", "--udp", "off", "--no-lan-discovery",
                                     "--log-level", "debug"], in: root, name: "agent", environment: ["KITH_LOG_MAX_BYTES": "300"])
        _ = try await agent.waitForLine(startingWith: "agent running")
        let server = try await ServerHarness.start()
        let login = try KithProcess.run(["login", server.invite.description, "--account", "alice", "--profile", profile.path],
                                        stdin: "correct horse\n")
        #expect(login.status == 0, "\(login.stderr)")
        let log = profile.appendingPathComponent("agent.log"), older = profile.appendingPathComponent("agent.log.1")
        try await Task.sleep(for: .seconds(1))
        #expect(FileManager.default.fileExists(atPath: older.path), "past the limit the log moved to agent.log.1")
        let size = (try FileManager.default.attributesOfItem(atPath: log.path)[.size] as? Int) ?? .max
        #expect(size <= 300)

        // An outside rotator moves the file away and sends SIGHUP: the agent writes a new one.
        try FileManager.default.removeItem(at: older)
        try FileManager.default.moveItem(at: log, to: older)
        kill(agent.process.processIdentifier, SIGHUP)
        try await Task.sleep(for: .milliseconds(500))
        #expect(FileManager.default.fileExists(atPath: log.path) && agent.process.isRunning)
        #expect(agent.terminate() == 0)
        withExtendedLifetime(server) {}
    }

    @Test func theLevelLeavesOutWhatIsBelowIt() async throws {
        let root = temporaryDirectory("log-level")
        let agent = try KithProcess(["agent", "--profile", root.appendingPathComponent("p").path, "--foreground", "--udp", "off",
                                     "--no-lan-discovery", "--log-level", "warning"], in: root, name: "agent")
        _ = try await agent.waitForLine(startingWith: "agent running")
        #expect(agent.terminate() == 0)
        #expect(!agent.stderr.contains(" info kith.agent") && !agent.stderr.contains(" notice kith.agent"), "\(agent.stderr)")
        let bad = try KithProcess.run(["agent", "--profile", root.appendingPathComponent("q").path, "--log-level", "loud"])
        #expect(bad.status == 64, "a level that does not exist is a usage error")
    }

    @Test func aLongOutageIsLoggedOnceNotAtEveryRetry() async throws {
        let server = try await ServerHarness.start()
        let agent = AgentHarness("laptop", root: temporaryDirectory("outage"))
        try await agent.start()
        _ = try agent.login(server)
        server.stop()
        try await Task.sleep(for: .seconds(9))  // the agent retries after about 1, 2 and 4 s
        let log = try String(contentsOf: agent.profile.appendingPathComponent("agent.log"), encoding: .utf8)
        // The connection's end may be said once in its own words; "cannot reach", repeated by
        // every retry, once.
        let lines = log.split(separator: "\n").filter { $0.contains("notice kith.agent: server connection:") && $0.contains("cannot reach") }
        #expect(lines.count == 1, "\(lines)")
        #expect(log.split(separator: "\n").filter { $0.contains("debug") }.isEmpty, "the default level is info")
    }
}
