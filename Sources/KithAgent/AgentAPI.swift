/// The local API between the CLI (or any program of the same user) and the agent: one JSON
/// object per line over the agent's Unix socket (Protocol/local-api.md).
public enum AgentMethod: String, Codable, Sendable, CaseIterable {
    case status, signup, login, logout, devices, send, inbox
    case contacts, contactAdd, contactAccept, contactRemove, read, discover
    /// A contact's safety code and trust (Protocol/local-api.md §Contacts' keys).
    case contactVerify, contactTrust
    /// File transfers (Protocol/local-api.md §Transfers).
    case push, transfers, transfer, accept, reject
    /// The roster and policies (Protocol/local-api.md §Devices and approval).
    case roster, approve, autoApprove, deny, unlink, handOver, recover, policyShow, policySet
    /// Turns the connection into a stream of `AgentEvent` lines (Protocol/local-api.md §Events).
    case events
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
        /// A message's server code (`read`).
        public var code: UInt64?
        /// A contact's account (`read`, `inbox`, `contactAdd`, `contactAccept`, `contactRemove`).
        public var contact: String?
        /// With `contact`: every message from it (`read`).
        public var all: Bool?
        /// Absolute paths of files and folders (`push`).
        public var paths: [String]?
        /// The receive permission a push asks for: "direct" or "ask" (`push`).
        public var receive: String?
        /// How long an offer waits for an answer (`push`).
        public var ttlSeconds: UInt32?
        /// A transfer id, or enough of its start to be unique (`transfer`, `accept`, `reject`).
        public var id: String?
        /// An absolute folder to land in (`accept`).
        public var folder: String?
        /// `key=value` policy settings (`policySet`).
        public var settings: [String]?
        /// How long auto-approval stays open, e.g. "10m"; "off" closes it (`autoApprove`).
        public var duration: String?
        /// The person confirmed it: the safety code matches (`contactVerify`), or they accept a
        /// new key of a contact they had verified (`contactTrust`).
        public var confirm: Bool?

        public init(invite: String? = nil, account: String? = nil, password: String? = nil, type: String? = nil,
                    name: String? = nil, to: String? = nil, text: String? = nil, limit: Int? = nil, code: UInt64? = nil,
                    contact: String? = nil, all: Bool? = nil, confirm: Bool? = nil) {
            self.confirm = confirm
            self.code = code
            self.contact = contact
            self.all = all
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
    /// Items in the outbox: notes, message copies and viewed-notices the server does not hold yet.
    public var pendingNotes: Int
    /// Viewed-notices held because their message has not arrived here.
    public var heldNotices: Int
    /// Outbox items (notes, notices, message copies) handed on since the agent started: directly
    /// to the receiving device, and through the server.
    public var sentDirect: Int
    public var sentThroughServer: Int
    public var lastError: String?
    /// This device's place in the roster it holds: "primary", "secondary" or "pending".
    public var role: String?
    /// The roster it holds ("roster 3"); nil while it holds none.
    public var roster: String?
    /// That roster's primary.
    public var primary: String?
    /// Messages and rosters from contacts refused since the agent started: from devices their
    /// primary did not approve, or signed by keys their chain does not prove.
    public var refusedFromContacts: Int?
}

public struct LoginResultAPI: Codable, Sendable, Equatable {
    public var account: String
    public var deviceID: String
    /// "primary" (the account's first device), "secondary", or "pending" (waiting for approval).
    public var role: String?
    /// This device's key fingerprint, to compare on the primary before approving it.
    public var fingerprint: String?
    /// Shown once, when this device made the account's first roster: keep it offline.
    public var recoveryKey: String?
}

public struct DeviceEntry: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var type: String
    public var online: Bool
    public var lastSeenMillis: UInt64
    public var fingerprint: String
    /// How this device reaches it: `lan` (directly, on a shared network), `direct` (directly,
    /// through NATs after hole punching), `relay` (through the server), or `self`.
    public var path: String
    public var clientVersion: String
    public var isThisDevice: Bool
    /// The round-trip time on the direct path, in milliseconds.
    public var rttMillis: Double?
    /// Why the path is what it is (why relayed, say).
    public var pathDetail: String?
}

public struct DevicesResult: Codable, Sendable, Equatable {
    public var account: String
    public var devices: [DeviceEntry]
}

public struct SendResult: Codable, Sendable, Equatable {
    /// The note's or message's id (hex), the same on every copy.
    public var noteID: String
    public var to: String
    /// True when the server already holds it (every copy); false when it waits in the outbox.
    public var relayed: Bool
    /// For a message to a contact: the devices it was sealed for, one copy each.
    public var devices: [String]?
    /// For a message to a contact that the server already holds: its server-assigned code.
    public var code: UInt64?
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
    /// Notes from this account's other devices.
    public var notes: [NoteEntry]
    /// Messages from contacts, oldest first.
    public var messages: [MessageEntry]
    /// Unread messages per contact account; contacts with none are absent.
    public var unread: [String: Int]
}

public struct MessageEntry: Codable, Sendable, Equatable {
    /// The server-assigned code: `kith read CODE`.
    public var code: UInt64
    /// The sending device.
    public var from: String
    /// The sending account.
    public var contact: String
    public var text: String
    public var sentAtMillis: UInt64
    public var receivedAtMillis: UInt64
    public var viewed: Bool
    public var viewedAtMillis: UInt64?
    /// The device of this account it was viewed on.
    public var viewedBy: String?
}

public struct ReadResult: Codable, Sendable, Equatable {
    /// The message read (empty for "all from a contact").
    public var messages: [MessageEntry]
    /// How many messages this call turned viewed.
    public var newlyViewed: Int
}

public struct ContactEntry: Codable, Sendable, Equatable {
    public var account: String
    /// `contact`, `requested` (waiting for them) or `incoming` (waiting for you).
    public var state: String
    public var devices: [DeviceEntry]
    public var onlineDevices: Int
    public var unread: Int
    /// How far this device trusts the contact's keys: `no roster`, `unverified`, `verified` or
    /// `key changed` (messages to it stop until `contactTrust`). Nil for requests.
    public var trust: String?
    /// What the person should know about the contact's keys, for people.
    public var warning: String?
    /// The contact's roster this device holds ("roster 3"): their devices that get and may send messages.
    public var roster: String?
    /// The devices of that roster.
    public var approvedDevices: [String]?
}

/// A contact's safety code, and whether it is verified (`contactVerify`, `contactTrust`).
public struct SafetyCodeResult: Codable, Sendable, Equatable {
    public var contact: String
    /// Forty digits in eight groups; the same on the contact's screen when both hold the real keys.
    public var code: String
    /// `unverified`, `verified` or `key changed`.
    public var trust: String
    public var verified: Bool
    /// What happened, for people.
    public var note: String?
}

public struct ContactsResult: Codable, Sendable, Equatable {
    public var contacts: [ContactEntry]
}

/// One line of the `events` stream: something changed that a user interface shows.
public struct AgentEvent: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        /// A note from another device of the account.
        case note
        /// A message from a contact (`codes` has its code).
        case message
        /// Messages turned viewed (`codes`), here or on another device (`by`).
        case viewed
        /// The contact list changed.
        case contacts
        /// The path to another device changed (`from`, `path`: lan, direct or relay).
        case path
        /// A file transfer changed state (`transfer`: its id, `state`, `from`: the other device).
        case transfer
        /// A device logged in and waits for approval (`from`).
        case pending
        /// This device accepted a new roster (`state`: its role in it).
        case roster
        /// This device accepted a new policy for `from`.
        case policy
        /// A contact's keys changed (`contact`; `state`: its trust, `key changed` when a roster
        /// under an unproven key arrived and messages to it stop), or were verified or trusted.
        case contactKeys
    }

    public var event: Kind
    public var from: String?
    public var contact: String?
    public var codes: [UInt64]?
    /// The contact's unread count after this event: what an unread reminder shows.
    public var unread: Int?
    public var by: String?
    public var path: String?
    public var transfer: String?
    public var state: String?
    /// On `message`: false when this device's policy says messages are silent (stored, no alert).
    public var notify: Bool?

    public init(event: Kind, from: String? = nil, contact: String? = nil, codes: [UInt64]? = nil, unread: Int? = nil,
                by: String? = nil, path: String? = nil, transfer: String? = nil, state: String? = nil) {
        self.transfer = transfer
        self.state = state
        self.path = path
        self.event = event
        self.from = from
        self.contact = contact
        self.codes = codes
        self.unread = unread
        self.by = by
    }
}

public struct EmptyResult: Codable, Sendable, Equatable {
    public init() {}
}

public struct DiscoveredEntry: Codable, Sendable, Equatable {
    /// The DNS-SD service instance name.
    public var name: String
    /// IPv4:port it resolved to.
    public var address: String
    /// The key fingerprint its TXT record claims (nil: not a Kith record).
    public var fingerprint: String?
    /// Whether its TXT record is a Kith record.
    public var kith: Bool
    public var protocolVersion: UInt16?
    /// The device of this account it claims to be (its account tag and fingerprint match).
    public var device: String?
    /// True once a handshake with that device's key succeeded at this address: only then is
    /// it trusted, and only as that device.
    public var verified: Bool
    /// This agent's own announcement.
    public var isThisDevice: Bool
}

public struct DiscoverResult: Codable, Sendable, Equatable {
    /// Whether DNS-SD works here (avahi-daemon reachable).
    public var available: Bool
    public var problem: String?
    public var services: [DiscoveredEntry]
}

/// One file transfer, either way, as `transfers`, `transfer`, `push`, `accept` and `reject` show it.
public struct TransferInfo: Codable, Sendable, Equatable {
    /// 32 hex digits; any unique start of it names the transfer in requests.
    public var id: String
    /// "out" (this device sends) or "in".
    public var direction: String
    /// The other device.
    public var peer: String
    /// offering, waiting, active, paused, complete, rejected, expired, failed or cancelled.
    public var state: String
    /// Why it is paused, failed, rejected or expired, or what the last attempt ran into.
    public var reason: String?
    public var files: Int
    /// Up to five of the top-level names offered.
    public var names: [String]
    public var totalBytes: UInt64
    /// Bytes the receiver holds verified (in place or in whole checked chunks).
    public var verifiedBytes: UInt64
    /// Sender: bytes put on the wire so far, resends included.
    public var sentBytes: UInt64?
    /// The stream's path while one is up: lan, direct or relay.
    public var path: String?
    /// Over the last few seconds, while it runs.
    public var bytesPerSecond: Double?
    /// Receiver: the folder it lands in, and the top-level names it got there.
    public var folder: String?
    public var landed: [String]?
    /// The receive permission the sender asked for: direct or ask.
    public var requested: String
    public var createdMillis: UInt64
    public var finishedMillis: UInt64?
    /// While waiting for an answer: when the offer expires.
    public var expiresAtMillis: UInt64?
}

public struct TransfersResult: Codable, Sendable, Equatable {
    public var transfers: [TransferInfo]
}
