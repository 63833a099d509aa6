import Foundation
import KithAgent
import KithTestSupport

/// A real `kith agent --foreground` for one profile, and the CLI pointed at it.
final class AgentHarness: @unchecked Sendable {
    let profile: URL
    /// `--udp`: loopback only, so the tests' direct paths never leave the machine; `off` for relay only.
    let udp: String
    /// Where pushed files land (`--receive-dir`).
    let received: URL
    /// More `kith agent` options.
    let extra: [String]
    private(set) var process: KithProcess?

    init(_ name: String, root: URL, udp: String = "127.0.0.1:0", extra: [String] = []) {
        profile = root.appendingPathComponent(name)
        received = root.appendingPathComponent(name + "-received")
        self.udp = udp
        self.extra = extra
    }

    func start() async throws {
        // No DNS-SD on the host: the lab (Tools/netlab) tests it inside namespaces, where it belongs.
        process = try KithProcess(["agent", "--profile", profile.path, "--foreground", "--udp", udp, "--no-lan-discovery",
                                   "--receive-dir", received.path] + extra,
                                  in: profile.deletingLastPathComponent(),
                                  name: profile.lastPathComponent + "-\(UUID().uuidString.prefix(4))")
        _ = try await process!.waitForLine(startingWith: "agent running")
    }

    /// SIGKILL: no goodbye, no flush, no cleanup.
    func kill9() { process?.kill() }

    /// Runs `kith ARGS --profile P --json` and decodes its JSON output.
    func cli<T: Decodable>(_ arguments: [String], as _: T.Type = T.self, stdin: String? = nil) throws -> T {
        let result = try KithProcess.run(arguments + ["--profile", profile.path, "--json"], stdin: stdin)
        guard result.status == 0 else {
            throw CLIFailure(status: result.status, message: result.stderr)
        }
        return try JSONDecoder().decode(T.self, from: Data(result.stdout.utf8))
    }

    func login(_ server: ServerHarness, account: String = "alice", password: String = "correct horse",
               type: String = "pc", name: String? = nil) throws -> LoginResultAPI {
        try cli(["login", server.invite.description, "--account", account, "--type", type,
                 "--name", name ?? profile.lastPathComponent], stdin: password + "\n")
    }

    func inbox() throws -> [NoteEntry] { try cli(["inbox", "--limit", "1000"], as: InboxResult.self).notes }

    /// Polls `condition` every 100 ms until it holds, for up to `seconds`.
    func eventually(_ what: String, seconds: Double = 20, _ condition: () throws -> Bool) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if (try? condition()) == true { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw CLIFailure(status: -1, message: "timed out waiting for \(what) on \(profile.lastPathComponent); log:\n"
                         + ((try? String(contentsOf: profile.appendingPathComponent("agent.log"), encoding: .utf8)) ?? "")
                         + (process?.stderr ?? ""))
    }

    struct CLIFailure: Error, CustomStringConvertible {
        let status: Int32
        let message: String
        var description: String { "exit \(status): \(message)" }
    }

    deinit { process?.kill() }
}
