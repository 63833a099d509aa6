import ArgumentParser
import Foundation
import KithAPI

/// Exit codes that mean something to scripts (`kith --help` lists them).
enum ExitStatus {
    static let failed: Int32 = 1          // the agent or the server refused; the message says why
    static let agentNotRunning: Int32 = 3 // no agent for this profile
    static let notLoggedIn: Int32 = 4     // the agent has no session
    static let badArguments: Int32 = 64   // the command line is malformed
}

/// A failure the CLI reports, so that scripts can rely on it: a stable `code` (the agent's error
/// codes, Protocol/local-api.md §Error codes, and the CLI's own: `agentNotRunning`,
/// `invalidArguments`, `transferEnded`, `failed`), a sentence for people, and the exit status.
/// Thrown, never printed where it happens: `Kith.main` prints it once, as `Error: …` on stderr
/// and, with `--json`, also as `{"error": {"code": …, "message": …}}` on stdout.
struct CLIError: Error, CustomStringConvertible {
    var code: String
    var message: String
    var status: Int32

    var description: String { message }

    /// The agent's refusal, with its code; `notLoggedIn` exits with 4, the others with 1.
    init(agent error: AgentError) {
        code = error.code.rawValue
        message = error.message
        status = error.code == .notLoggedIn ? ExitStatus.notLoggedIn : ExitStatus.failed
    }

    init(code: String, _ message: String, status: Int32 = ExitStatus.failed) {
        self.code = code
        self.message = message
        self.status = status
    }

    /// What `--json` prints for it: one object, or one more line of a JSON-lines stream.
    var json: String { JSONOutput.line(Body(error: .init(code: code, message: message))) }

    struct Body: Encodable {
        struct Detail: Encodable {
            var code: String
            var message: String
        }
        var error: Detail
    }
}

/// A failure with `message`; the code follows the status (3 `agentNotRunning`, 4 `notLoggedIn`,
/// else `failed`).
func fail(_ message: String, status: Int32 = ExitStatus.failed) -> CLIError {
    let code = switch status {
    case ExitStatus.agentNotRunning: "agentNotRunning"
    case ExitStatus.notLoggedIn: AgentError.Code.notLoggedIn.rawValue
    default: "failed"
    }
    return CLIError(code: code, message, status: status)
}

/// How the CLI writes JSON: sorted keys, pretty for one document, compact for a line of a stream.
enum JSONOutput {
    static func document(_ value: some Encodable) -> String { encode(value, [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]) }
    static func line(_ value: some Encodable) -> String { encode(value, [.sortedKeys, .withoutEscapingSlashes]) }

    private static func encode(_ value: some Encodable, _ formatting: JSONEncoder.OutputFormatting) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = formatting
        return String(decoding: (try? encoder.encode(value)) ?? Data(), as: UTF8.self)
    }
}

extension Kith {
    /// Runs the command; any failure is printed once, here: `Error: …` on stderr, and with
    /// `--json` also as JSON on stdout (a malformed command line too, as `invalidArguments`).
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var command = command as? AsyncParsableCommand { try await command.run() } else { try command.run() }
        } catch let error as CLIError {
            report(error)
        } catch {
            let status = exitCode(for: error).rawValue
            // Help, --version and a bare ExitCode (its output was printed already) go as before.
            guard status != 0, !(error is ExitCode) else { exit(withError: error) }
            let code = status == ExitStatus.badArguments ? "invalidArguments" : "failed"
            guard wantsJSON else { exit(withError: error) }
            report(CLIError(code: code, message(for: error), status: status))
        }
    }

    /// `--json` is on the command line (before a `--`).
    static var wantsJSON: Bool { CommandLine.arguments.dropFirst().prefix { $0 != "--" }.contains("--json") }

    private static func report(_ error: CLIError) -> Never {
        FileHandle.standardError.write(Data("Error: \(error.message)\n".utf8))
        if wantsJSON { Console.line(error.json) }
        Foundation.exit(error.status)
    }
}
