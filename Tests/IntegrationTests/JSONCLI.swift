import Foundation
import KithTestSupport
import Testing

/// `kith VERB … --json` run as a script runs it: stdout parsed with JSONSerialization (not the
/// CLI's own Codable types, which would hide a wrong JSON type), and the JSON type of each field
/// checked. A failure must be one object `{"error": {"code", "message"}}` on stdout, with a
/// non-zero exit status.
struct JSONCLI {
    let profile: String

    init(_ profile: URL) { self.profile = profile.path }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// One run: exit status, stdout parsed as JSON (nil if it is not JSON), and the raw output.
    func run(_ arguments: [String], stdin: String? = nil) throws -> (status: Int32, json: Any?, stdout: String, stderr: String) {
        let result = try KithProcess.run(arguments + ["--profile", profile, "--json"], stdin: stdin)
        let json = try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
        return (result.status, json, result.stdout, result.stderr)
    }

    /// A command that succeeds with one JSON object.
    func object(_ arguments: [String], stdin: String? = nil) throws -> [String: Any] {
        let result = try run(arguments, stdin: stdin)
        guard result.status == 0, let object = result.json as? [String: Any] else {
            throw Failure(description: "kith \(arguments.joined(separator: " ")): exit \(result.status), not one object: \(result.stdout) \(result.stderr)")
        }
        return object
    }

    /// A command that succeeds with one JSON array of objects.
    func array(_ arguments: [String]) throws -> [[String: Any]] {
        let result = try run(arguments)
        guard result.status == 0, let array = result.json as? [[String: Any]] else {
            throw Failure(description: "kith \(arguments.joined(separator: " ")): exit \(result.status), not an array: \(result.stdout) \(result.stderr)")
        }
        return array
    }

    /// A command that fails: its exit status and the error's `code`, after checking the error
    /// object's shape and that stderr says it too.
    func error(_ arguments: [String], stdin: String? = nil) throws -> (status: Int32, code: String) {
        let result = try run(arguments, stdin: stdin)
        return (result.status, try Self.errorCode(result.status, result.stdout.split(separator: "\n").last.map(String.init) ?? "",
                                                  stderr: result.stderr, command: arguments))
    }

    /// The `code` of an error line (the last line of a JSON-lines stream, or the whole document).
    static func errorCode(_ status: Int32, _ line: String, stderr: String, command: [String]) throws -> String {
        let what = "kith \(command.joined(separator: " "))"
        let parsed = try? JSONSerialization.jsonObject(with: Data(line.utf8))
        guard status != 0, let error = (parsed as? [String: Any])?["error"] as? [String: Any],
              let code = error["code"] as? String, !code.isEmpty, error["message"] is String,
              stderr.contains("Error: ")
        else { throw Failure(description: "\(what): exit \(status), not a JSON error: \(line) \(stderr)") }
        return code
    }

    /// A long-running command's JSON lines, each one object.
    static func lines(_ text: String) throws -> [[String: Any]] {
        try text.split(separator: "\n").map { line in
            guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw Failure(description: "not a JSON object: \(line)")
            }
            return object
        }
    }
}

/// JSON types as JSONSerialization gives them: a boolean is an NSNumber too, so it is told apart
/// by its class.
enum JSONType {
    static func isBool(_ value: Any?) -> Bool { value.map { "\(type(of: $0))".contains("Boolean") } ?? false }
    static func isNumber(_ value: Any?) -> Bool { value is NSNumber && !isBool(value) }
    static func isString(_ value: Any?) -> Bool { value is String }
    static func isObject(_ value: Any?) -> Bool { value is [String: Any] }
    static func isArray(_ value: Any?) -> Bool { value is [Any] }

    /// The names of the `fields` of `object` whose value is not of the type asked for:
    /// `n` number, `b` bool, `s` string, `o` object, `a` array; a `?` after it allows it absent.
    static func wrong(_ object: [String: Any], _ fields: [String: String]) -> [String] {
        fields.compactMap { key, kind in
            let value = object[key]
            if kind.hasSuffix("?") && (value == nil || value is NSNull) { return nil }
            let ok = switch kind.first {
            case "n": isNumber(value)
            case "b": isBool(value)
            case "s": isString(value)
            case "o": isObject(value)
            case "a": isArray(value)
            default: false
            }
            return ok ? nil : "\(key) (\(value.map { "\($0)" } ?? "absent"), wanted \(kind))"
        }.sorted()
    }
}
