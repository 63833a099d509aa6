import Foundation

/// The local API's JSON lines (Protocol/local-api.md §Framing): each request, response and event
/// is one JSON object on one line. Both ends use this, so the CLI, the benches and the agent
/// cannot disagree on a key.
public enum APICodec {
    /// What a request line must decode to before its parameters are looked at.
    public enum RequestProblem: Error, Sendable, Equatable, CustomStringConvertible {
        case notJSON(String)
        case unknownMethod(String)
        case badParameters(method: AgentMethod, String)

        public var description: String {
            switch self {
            case .notJSON(let why): "not a request: \(why)"
            case .unknownMethod(let name): "unknown method \"\(name)\""
            case .badParameters(let method, let why): "bad parameters for \(method.rawValue): \(why)"
            }
        }
    }

    private struct Head: Decodable {
        var method: String
    }
    private struct Line<Params: Codable>: Codable {
        var method: String
        var account: String?
        var params: Params?
    }

    /// `{"method":"send","params":{"text":"hi","to":"alice-MP-1"}}` and a newline; with
    /// `account`, the request is for that account of the agent (§Accounts) instead of the default one.
    public static func encode<R: APIRequest>(_ request: R, account: String? = nil) throws -> [UInt8] {
        try line(Line(method: R.method.rawValue, account: account, params: request))
    }

    /// Methods renamed since version 0 was published, by their earlier names: clients that send
    /// them keep working (Protocol/local-api.md §Methods).
    static let earlierNames: [String: AgentMethod] = ["unlink": .revoke]

    /// The method a request line names.
    public static func method(of line: [UInt8]) throws(RequestProblem) -> AgentMethod {
        let head: Head
        do { head = try JSONDecoder().decode(Head.self, from: Data(line)) } catch { throw .notJSON(reason(error)) }
        guard let method = AgentMethod(rawValue: head.method) ?? earlierNames[head.method] else {
            throw .unknownMethod(head.method)
        }
        return method
    }

    /// The request a line carries, as `R`; a missing `params` is an empty object.
    public static func request<R: APIRequest>(_: R.Type, from line: [UInt8]) throws(RequestProblem) -> R {
        try call(R.self, from: line).request
    }

    /// The request a line carries and the account it names (nil: the default), in one decoding.
    public static func call<R: APIRequest>(_: R.Type, from line: [UInt8]) throws(RequestProblem) -> (request: R, account: String?) {
        do {
            let decoded = try JSONDecoder().decode(Line<R>.self, from: Data(line))
            if let params = decoded.params { return (params, decoded.account) }
            return (try JSONDecoder().decode(R.self, from: Data("{}".utf8)), decoded.account)  // no params: as an empty object
        } catch {
            throw .badParameters(method: R.method, reason(error))
        }
    }

    public static func encode<Result: Codable & Sendable>(_ response: AgentResponse<Result>) -> [UInt8] {
        (try? line(response)) ?? Array(#"{"ok":false}"#.utf8) + [0x0A]
    }

    public static func response<Result: Codable & Sendable>(_: Result.Type, from line: [UInt8]) throws -> AgentResponse<Result> {
        try JSONDecoder().decode(AgentResponse<Result>.self, from: Data(line))
    }

    public static func encode(_ event: AgentEvent) -> [UInt8] {
        (try? line(event)) ?? []
    }

    public static func event(from line: [UInt8]) throws -> AgentEvent {
        try JSONDecoder().decode(AgentEvent.self, from: Data(line))
    }

    /// One value as one line: keys sorted (stable output for scripts and tests), newline-terminated.
    private static func line(_ value: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(value)) + [0x0A]
    }

    /// A decoding error in a sentence: which key is missing or of the wrong type.
    private static func reason(_ error: any Error) -> String {
        switch error as? DecodingError {
        case .keyNotFound(let key, _)?: "`\(key.stringValue)` is missing"
        case .typeMismatch(_, let context)?, .valueNotFound(_, let context)?:
            "`\(context.codingPath.map(\.stringValue).filter { $0 != "params" }.joined(separator: "."))` has the wrong type"
        case .dataCorrupted(let context)?: context.debugDescription
        default: "\(error)"
        }
    }
}
