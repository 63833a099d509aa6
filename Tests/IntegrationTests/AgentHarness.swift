import Foundation
import KithAPI
import KithAgent
import KithTestSupport

/// A real `kith agent --foreground` for one profile, and the CLI pointed at it.
final class AgentHarness: @unchecked Sendable {
    let profile: URL
    /// `--udp`: loopback only, so the tests' direct paths never leave the machine; `off` for relay only.
    let udp: String
    /// Where pushed files land (`--receive-dir`).
    let received: URL
    /// More `kith agent` options, and environment variables.
    let extra: [String]
    let environment: [String: String]
    private(set) var process: KithProcess?

    init(_ name: String, root: URL, udp: String = "127.0.0.1:0", extra: [String] = [], environment: [String: String] = [:]) {
        profile = root.appendingPathComponent(name)
        received = root.appendingPathComponent(name + "-received")
        self.udp = udp
        self.extra = extra
        self.environment = environment
    }

    func start() async throws {
        // No DNS-SD on the host: the lab (Tools/netlab) tests it inside namespaces, where it belongs.
        process = try KithProcess(["agent", "--profile", profile.path, "--foreground", "--udp", udp, "--no-lan-discovery",
                                   "--receive-dir", received.path] + extra,
                                  in: profile.deletingLastPathComponent(),
                                  name: profile.lastPathComponent + "-\(UUID().uuidString.prefix(4))", environment: environment)
        _ = try await process!.waitForLine(startingWith: "agent running")
    }

    /// SIGKILL: no goodbye, no flush, no cleanup.
    func kill9() { process?.kill() }

    /// SIGTERM; the exit status, nil if the agent did not end within 10 s.
    func terminate() -> Int32? { process?.terminate() }

    /// Runs `kith ARGS --profile P --json` and decodes its JSON output.
    func cli<T: Decodable>(_ arguments: [String], as _: T.Type = T.self, stdin: String? = nil) throws -> T {
        let result = try KithProcess.run(arguments + ["--profile", profile.path, "--json"], stdin: stdin)
        guard result.status == 0 else {
            throw CLIFailure(status: result.status, message: result.stderr)
        }
        return try JSONDecoder().decode(T.self, from: Data(result.stdout.utf8))
    }

    /// Logs in; a new device of an account is then approved on the account's primary (its
    /// first agent here) unless `approve` is false, and this returns once every running agent
    /// of the account holds the roster that lists it.
    func login(_ server: ServerHarness, account: String = "alice", password: String = "correct horse",
               type: String = "pc", name: String? = nil, approve: Bool = true) throws -> LoginResultAPI {
        let result: LoginResultAPI = try cli(["login", server.invite.description, "--account", account, "--type", type,
                                              "--name", name ?? profile.lastPathComponent], stdin: password + "\n")
        let others = server.agents[account, default: []].filter { $0 !== self }
        if !server.agents[account, default: []].contains(where: { $0 === self }) { server.agents[account, default: []].append(self) }
        guard approve, result.role == "pending", let primary = others.first else { return result }
        let approved = try primary.cli(["approve", result.deviceID], as: RosterResult.self)
        for agent in others + [self] {
            try agent.waitForRoster(approved.roster ?? "")
        }
        return result
    }

    /// Waits (blocking, up to 10 s) until this agent holds `label` or a later roster; an agent that
    /// is not running is skipped.
    func waitForRoster(_ label: String) throws {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            guard let status = try? cli(["status"], as: StatusResult.self) else { return }
            if let held = status.roster, Self.version(held) >= Self.version(label) { return }
            Thread.sleep(forTimeInterval: 0.1)
        }
        throw CLIFailure(status: -1, message: "\(profile.lastPathComponent) did not take \(label)")
    }

    /// "roster 3 of epoch 1" → (1, 3), for comparing labels.
    static func version(_ label: String) -> (Int, Int) {
        let numbers = label.split(separator: " ").compactMap { Int($0) }
        return numbers.count == 2 ? (numbers[1], numbers[0]) : (0, numbers.first ?? 0)
    }

    func inbox() throws -> [NoteEntry] { try cli(["inbox", "--limit", "1000"], as: InboxResult.self).notes }

    /// Polls `condition` every 100 ms until it holds, for `seconds` on the clock and at least
    /// `seconds × 4` tries (a starved test process must not time out for want of tries).
    func eventually(_ what: String, seconds: Double = 20, _ condition: () throws -> Bool) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        var tries = 0
        while Date() < deadline || Double(tries) < seconds * 4 {
            if (try? condition()) == true { return }
            tries += 1
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
