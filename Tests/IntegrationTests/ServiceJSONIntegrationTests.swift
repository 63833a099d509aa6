import Foundation
import KithTestSupport
import Testing

/// `--json` on the verbs that do not ask the agent: the agent's service verbs and the server's
/// operator verbs print one typed document, and a failure the error object with its code.
@Suite(.serialized, .fewAtATime) struct ServiceJSONIntegrationTests {
    static func json(_ arguments: [String], environment: [String: String] = [:]) throws -> (Int32, Any?) {
        let result = try KithProcess.run(arguments + ["--json"], environment: environment)
        return (result.status, try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)))
    }

    static func errorCode(_ json: Any?) -> String? { ((json as? [String: Any])?["error"] as? [String: Any])?["code"] as? String }

    @Test func theServersOperatorVerbs() throws {
        let root = temporaryDirectory("service-json")
        let data = root.appendingPathComponent("server").path, password = root.appendingPathComponent("pw")
        try "a long password\n".write(to: password, atomically: true, encoding: .utf8)
        let (added, addedJSON) = try Self.json(["server", "account", "add", "carol", "--data", data, "--password-file", password.path])
        #expect(added == 0 && (addedJSON as? [String: Any])?["done"] as? String == "created")
        let (_, listed) = try Self.json(["server", "account", "list", "--data", data])
        let entry = (listed as? [[String: Any]])?.first
        #expect(entry?["account"] as? String == "carol" && entry?["devices"] is Int && entry?["createdAtMillis"] is Int, "\(String(describing: listed))")
        let (changed, changedJSON) = try Self.json(["server", "account", "passwd", "carol", "--data", data, "--password-file", password.path])
        #expect(changed == 0 && (changedJSON as? [String: Any])?["done"] as? String == "changed")
        let (noWatchers, noWatchersJSON) = try Self.json(["server", "account", "revoke-watchers", "carol", "--data", data])
        #expect(noWatchers == 1 && Self.errorCode(noWatchersJSON) == "failed", "nothing to revoke is not a success")
        let (removed, removedJSON) = try Self.json(["server", "account", "remove", "carol", "--yes", "--data", data])
        #expect(removed == 0 && (removedJSON as? [String: Any])?["count"] as? Int == 0)
        let (again, againJSON) = try Self.json(["server", "account", "remove", "carol", "--yes", "--data", data])
        #expect(again == 1 && Self.errorCode(againJSON) == "failed")
    }

    @Test func theAgentsServiceVerbs() throws {
        let root = temporaryDirectory("agent-service-json")
        let profile = root.appendingPathComponent("laptop").path
        let (started, startedJSON) = try Self.json(["agent", "--profile", profile, "--udp", "127.0.0.1:0", "--no-lan-discovery"])
        let start = startedJSON as? [String: Any]
        #expect(started == 0 && start?["done"] as? String == "started" && start?["pid"] is Int, "\(String(describing: startedJSON))")
        let (stopped, stoppedJSON) = try Self.json(["agent", "stop", "--profile", profile])
        #expect(stopped == 0 && (stoppedJSON as? [String: Any])?["pid"] as? Int == start?["pid"] as? Int)
        let (again, againJSON) = try Self.json(["agent", "stop", "--profile", profile])
        #expect(again == 3 && Self.errorCode(againJSON) == "agentNotRunning")

        let home = root.appendingPathComponent("home").path
        let (installed, installedJSON) = try Self.json(["agent", "install"], environment: ["HOME": home])
        let files = (installedJSON as? [String: Any])?["files"] as? [String]
        #expect(installed == 0 && files?.count == 4 && files?.allSatisfy { FileManager.default.fileExists(atPath: $0) } == true)
    }
}
