import Foundation
import KithStore
import KithTestSupport
import Testing

/// The agent's store migrates in one transaction: a `kill -9` of a real `kith agent` in the middle
/// of the migration (held there by a test pause inside it) leaves the store as the previous
/// version wrote it, and the next open migrates it with nothing lost.
@Suite(.serialized, .fewAtATime) struct StoreMigrationIntegrationTests {
    @Test func aKillDuringTheMigrationLeavesAStoreThatStillOpens() async throws {
        let root = temporaryDirectory("migration-kill")
        let profile = root.appendingPathComponent("laptop")
        try FileManager.default.createDirectory(at: profile, withIntermediateDirectories: true)
        let path = profile.appendingPathComponent("agent.sqlite").path
        try FileManager.default.copyItem(atPath: Repository.url("Tests/KithStoreTests/Fixtures/agent-v6.sqlite").path, toPath: path)

        let agent = try KithProcess(["agent", "--profile", profile.path, "--foreground", "--udp", "off", "--no-lan-discovery"],
                                    in: root, name: "agent", environment: ["KITH_TEST_PAUSE_IN_MIGRATION_MS": "20000"])
        // Half the tables are rebuilt, uncommitted, when the migration pauses and says so.
        let deadline = Date().addingTimeInterval(30)
        while !agent.stderr.contains("store migration v7 paused") && Date() < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(agent.stderr.contains("store migration v7 paused") && agent.process.isRunning && !agent.stdout.contains("agent running"),
                "the agent is inside the migration")
        agent.kill()

        let store = try AgentStore(path: path)
        let session = try #require(try store.session())
        #expect(session.account == "alice" && session.deviceID == "alice-PC-1")
        #expect(try store.devices().count == 2 && store.contacts().map(\.account) == ["bob"])
        #expect(try store.messages().map(\.text) == ["lunch at noon?"] && store.roster() != nil && store.transfers().count == 1)
    }
}
