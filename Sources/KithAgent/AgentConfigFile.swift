import Foundation
import TOMLKit

/// The settings of a profile that outlive one run of its agent: `PROFILE/config.toml`, the
/// `kith agent` options by their long names (`udp = "0.0.0.0:7401"`, `lan-discovery = false`).
/// A flag given to `kith agent` wins over the file for that run; the file wins over the built-in
/// default. Written by `kith config set` (or by hand), read at every start.
public struct AgentConfigFile: Sendable, Equatable {
    /// What a key holds in TOML.
    public enum Kind: Sendable {
        case string, integer, bool, strings
    }

    /// One setting's value.
    public enum Value: Sendable, Equatable, CustomStringConvertible {
        case string(String), integer(Int), bool(Bool), strings([String])

        public var description: String {
            switch self {
            case .string(let text): text
            case .integer(let number): String(number)
            case .bool(let flag): flag ? "true" : "false"
            case .strings(let list): list.joined(separator: ", ")
            }
        }
    }

    /// Every key the file may hold, with its kind: the `kith agent` options that are settings.
    public static let keys: [String: Kind] = [
        "log-level": .string, "notice-clip": .string, "notice-clip-bytes": .integer, "notice-hold-hours": .integer,
        "udp": .string, "lan-discovery": .bool, "receive-dir": .string, "receive-siblings": .string,
        "receive-from": .strings, "max-send-rate": .string, "offer-timeout": .integer, "abandon-after-hours": .integer,
        "allow-hidden-names": .bool,
    ]

    /// A file that cannot be read or a value that does not fit its key, in a sentence.
    public struct Problem: Error, Sendable, Equatable, CustomStringConvertible {
        public let description: String
        public init(_ description: String) { self.description = description }
    }

    public private(set) var values: [String: Value] = [:]

    public init(values: [String: Value] = [:]) { self.values = values }

    /// The file at `url`; none there is an empty file.
    public static func load(from url: URL) throws(Problem) -> AgentConfigFile {
        guard let data = FileManager.default.contents(atPath: url.path) else { return AgentConfigFile() }
        do { return try AgentConfigFile(toml: String(decoding: data, as: UTF8.self)) } catch {
            throw Problem("\(url.path): \(error.description)")
        }
    }

    public init(toml text: String) throws(Problem) {
        let table: TOMLTable
        do { table = try TOMLTable(string: text) } catch let error as TOMLParseError {
            throw Problem("line \(error.source.begin.line): \(error.description)")
        } catch {
            throw Problem("\(error)")
        }
        for (key, value) in table {
            guard let kind = Self.keys[key] else { throw Problem("unknown setting \(key) (\(Self.keyList))") }
            let typed: Value? = switch kind {
            case .string: value.string.map(Value.string)
            case .integer: value.int.map(Value.integer)
            case .bool: value.bool.map(Value.bool)
            case .strings: value.array.flatMap { array in
                let strings = array.compactMap(\.string)
                return strings.count == array.count ? Value.strings(strings) : nil
            }
            }
            guard let typed else { throw Problem("\(key) must be \(Self.name(of: kind))") }
            values[key] = typed
        }
    }

    /// The file's text: keys in order, each with its value.
    public var toml: String {
        let table = TOMLTable()
        for (key, value) in values {
            switch value {
            case .string(let text): table[key] = text
            case .integer(let number): table[key] = number
            case .bool(let flag): table[key] = flag
            case .strings(let list): table[key] = TOMLArray(list)
            }
        }
        return "# kith agent settings of this profile (`kith config`); a flag to `kith agent` wins for one run.\n"
            + table.convert() + "\n"
    }

    /// Writes the file whole (a temporary file renamed over it), readable by its owner only.
    public func save(to url: URL) throws {
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).new")
        guard FileManager.default.createFile(atPath: temporary.path, contents: Data(toml.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw Problem("cannot write \(temporary.path)")
        }
        guard rename(temporary.path, url.path) == 0 else {
            throw Problem("cannot replace \(url.path): \(String(cString: strerror(errno)))")
        }
    }

    /// Sets `key` from its command-line text (`true`, `600`, `a,b` for a list).
    public mutating func set(_ key: String, to text: String) throws(Problem) {
        guard let kind = Self.keys[key] else { throw Problem("unknown setting \(key) (\(Self.keyList))") }
        switch kind {
        case .string: values[key] = .string(text)
        case .integer:
            guard let number = Int(text), number >= 0 else { throw Problem("\(key) must be \(Self.name(of: kind))") }
            values[key] = .integer(number)
        case .bool:
            guard let flag = ["true": true, "yes": true, "on": true, "false": false, "no": false, "off": false][text.lowercased()] else {
                throw Problem("\(key) must be \(Self.name(of: kind))")
            }
            values[key] = .bool(flag)
        case .strings:
            values[key] = .strings(text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
        }
    }

    public mutating func unset(_ key: String) throws(Problem) {
        guard Self.keys[key] != nil else { throw Problem("unknown setting \(key) (\(Self.keyList))") }
        values[key] = nil
    }

    public func string(_ key: String) -> String? { if case .string(let text)? = values[key] { text } else { nil } }
    public func integer(_ key: String) -> Int? { if case .integer(let number)? = values[key] { number } else { nil } }
    public func bool(_ key: String) -> Bool? { if case .bool(let flag)? = values[key] { flag } else { nil } }
    public func strings(_ key: String) -> [String]? { if case .strings(let list)? = values[key] { list } else { nil } }

    static var keyList: String { "settings: " + keys.keys.sorted().joined(separator: ", ") }

    static func name(of kind: Kind) -> String {
        switch kind {
        case .string: "a string"
        case .integer: "a whole number, 0 or more"
        case .bool: "true or false"
        case .strings: "a list of strings"
        }
    }
}
