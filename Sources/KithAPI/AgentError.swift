/// Why a request failed, as a stable code for scripts and a message for people.
public struct AgentError: Error, Codable, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Codable, Sendable {
        /// The request is malformed or a parameter is missing or invalid.
        case invalidRequest
        /// The agent has no session: run `kith login`.
        case notLoggedIn
        /// No device of the account, and no device or account of a contact, has that id.
        case unknownDevice
        /// No such transfer, or the id prefix is not unique.
        case unknownTransfer
        /// This device holds no message with that code.
        case unknownMessage
        /// The server could not be reached.
        case serverUnreachable
        /// The server refused (wrong password, rate limit, expired session…); `message` says why.
        case serverRefused
        /// Something failed inside the agent; see its log.
        case internalError
        /// The roster or a policy does not allow it (not the primary, not approved, push not allowed).
        case notPermitted
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

/// `{"ok": true, "result": …}` or `{"ok": false, "error": {"code": …, "message": …}}`.
public struct AgentResponse<Result: Codable & Sendable>: Codable, Sendable {
    public var ok: Bool
    public var result: Result?
    public var error: AgentError?

    public init(result: Result) {
        ok = true
        self.result = result
        error = nil
    }

    public init(error: AgentError) {
        ok = false
        result = nil
        self.error = error
    }
}
