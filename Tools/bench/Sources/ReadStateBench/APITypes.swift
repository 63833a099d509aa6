import Foundation

// The local API's JSON, as far as this bench reads it (Protocol/local-api.md; the agent's own
// types are in Sources/KithAgent/AgentAPI.swift, which is not a library product). Decoding
// ignores fields not named here.

/// A request line: `{"method": M, "params": {…}}`; nil parameters are left out.
struct Request: Encodable {
    struct Params: Encodable {
        var to: String?
        var text: String?
        var limit: Int?
        var code: UInt64?
        var contact: String?
        var all: Bool?
    }

    var method: String
    var params: Params
}

/// `{"ok": true, "result": …}` or `{"ok": false, "error": {"code": …, "message": …}}`.
struct Response<Result: Decodable>: Decodable {
    struct Failure: Decodable {
        var code: String
        var message: String
    }

    var ok: Bool
    var result: Result?
    var error: Failure?
}

/// For results this bench does not read (`status`, `contactAdd`, the `events` answer).
struct Ignored: Decodable {}

struct InboxResult: Decodable {
    struct Message: Decodable {
        var code: UInt64
        var contact: String
    }

    var messages: [Message]
    /// Unread messages per contact account; contacts with none are absent.
    var unread: [String: Int]
}

struct ReadResult: Decodable {
    var newlyViewed: Int
}

struct SendResult: Decodable {
    var relayed: Bool
}

struct LoginResult: Decodable {
    var deviceID: String
}

struct StatusResult: Decodable {
    /// "primary", "secondary" or "pending" (waiting for the primary's approval).
    var role: String?
}

struct DevicesResult: Decodable {
    struct Device: Decodable {
        var id: String
        /// How the asking device reaches this one: `self`, `relay` (through the server), and
        /// once direct paths exist (issue 4) `lan` or `direct`. Absent in contact lists.
        var path: String?
    }

    var devices: [Device]
}

struct ContactsResult: Decodable {
    struct Contact: Decodable {
        var account: String
        /// `contact`, `requested` or `incoming`.
        var state: String
        var devices: [DevicesResult.Device]
        /// The contact's devices their roster approves (what messages are sealed for).
        var approvedDevices: [String]?
    }

    var contacts: [Contact]
}

/// One line of the `events` stream, e.g.
/// `{"by":"alice-PC-1","codes":[5],"contact":"bob","event":"viewed","unread":0}`.
struct AgentEvent: Decodable {
    /// `note`, `message`, `viewed`, `contacts` or `path`.
    var event: String
    var contact: String?
    var codes: [UInt64]?
    /// The contact's unread count after this event.
    var unread: Int?
    /// The device the messages were viewed on.
    var by: String?
}
