/// The local API between the CLI (or any program of the same user) and the agent: one JSON
/// object per line over the agent's Unix socket (Protocol/local-api.md).
public enum AgentMethod: String, Codable, Sendable, CaseIterable {
    case status, signup, login, logout, devices, send, inbox
}

/// A request: `{"method": "send", "params": {"to": "alice-PC-2", "text": "hi"}}`. Each method
/// reads the parameters it needs and ignores the rest.
public struct AgentRequest: Codable, Sendable, Equatable {
    public struct Params: Codable, Sendable, Equatable {
        public var invite: String?
        public var account: String?
        public var password: String?
        public var type: String?
        public var name: String?
        public var to: String?
        public var text: String?
        public var limit: Int?

        public init(invite: String? = nil, account: String? = nil, password: String? = nil, type: String? = nil,
                    name: String? = nil, to: String? = nil, text: String? = nil, limit: Int? = nil) {
            self.invite = invite
            self.account = account
            self.password = password
            self.type = type
            self.name = name
            self.to = to
            self.text = text
            self.limit = limit
        }
    }

    public var method: AgentMethod
    public var params: Params

    public init(_ method: AgentMethod, _ params: Params = Params()) {
        self.method = method
        self.params = params
    }
}

/// Why a request failed, as a stable code for scripts and a message for people.
public struct AgentError: Error, Codable, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Codable, Sendable {
        /// The request is malformed or a parameter is missing or invalid.
        case invalidRequest
        /// The agent has no session: run `kith login`.
        case notLoggedIn
        /// No device of the account has that id.
        case unknownDevice
        /// The server could not be reached.
        case serverUnreachable
        /// The server refused (wrong password, rate limit, expired session…); `message` says why.
        case serverRefused
        /// Something failed inside the agent; see its log.
        case internalError
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

// MARK: - Results

public struct StatusResult: Codable, Sendable, Equatable {
    public var profile: String
    public var agentVersion: String
    public var pid: Int32
    public var fingerprint: String
    public var server: String?
    public var connected: Bool
    public var account: String?
    public var deviceID: String?
    public var sessionExpiresAtMillis: UInt64?
    public var pendingNotes: Int
    public var lastError: String?
}

public struct LoginResultAPI: Codable, Sendable, Equatable {
    public var account: String
    public var deviceID: String
}

public struct DeviceEntry: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var type: String
    public var online: Bool
    public var lastSeenMillis: UInt64
    public var fingerprint: String
    /// How this device reaches it: `relay` (through the server) for now; `lan` and `direct` later.
    public var path: String
    public var clientVersion: String
    public var isThisDevice: Bool
}

public struct DevicesResult: Codable, Sendable, Equatable {
    public var account: String
    public var devices: [DeviceEntry]
}

public struct SendResult: Codable, Sendable, Equatable {
    public var noteID: String
    public var to: String
    /// True when the server already holds it; false when it waits in the outbox for the server.
    public var relayed: Bool
}

public struct NoteEntry: Codable, Sendable, Equatable {
    public var noteID: String
    public var from: String
    public var to: String
    public var text: String
    public var sentAtMillis: UInt64
    public var receivedAtMillis: UInt64?
}

public struct InboxResult: Codable, Sendable, Equatable {
    public var notes: [NoteEntry]
}

public struct EmptyResult: Codable, Sendable, Equatable {
    public init() {}
}
