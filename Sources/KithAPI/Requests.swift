/// One local API method's request: its parameters as one type, and the type its result decodes
/// to. On the wire it is `{"method": M, "params": {…}}` (Protocol/local-api.md §Framing); the
/// parameters are the type's fields, so a request of the wrong shape is refused when it is
/// decoded, before any handler runs. Optional fields are the parameters that have defaults.
public protocol APIRequest: Codable, Sendable {
    associatedtype Result: Codable & Sendable
    static var method: AgentMethod { get }
}

// MARK: - The session

public struct StatusRequest: APIRequest {
    public typealias Result = StatusResult
    public static let method = AgentMethod.status
    public init() {}
}

public struct SignupRequest: APIRequest {
    public typealias Result = EmptyResult
    public static let method = AgentMethod.signup
    public var invite: String
    public var account: String
    public var password: String
    public init(invite: String, account: String, password: String) {
        (self.invite, self.account, self.password) = (invite, account, password)
    }
}

public struct LoginRequest: APIRequest {
    public typealias Result = LoginResultAPI
    public static let method = AgentMethod.login
    public var invite: String
    public var account: String
    public var password: String
    /// `pc`, `mobile`, `tv`, `web` or `server`; default `pc`.
    public var type: String?
    /// The device's name; default the host name.
    public var name: String?
    public init(invite: String, account: String, password: String, type: String? = nil, name: String? = nil) {
        (self.invite, self.account, self.password, self.type, self.name) = (invite, account, password, type, name)
    }
}

public struct LogoutRequest: APIRequest {
    public typealias Result = EmptyResult
    public static let method = AgentMethod.logout
    public init() {}
}

public struct DevicesRequest: APIRequest {
    public typealias Result = DevicesResult
    public static let method = AgentMethod.devices
    public init() {}
}

// MARK: - Notes and messages

public struct SendRequest: APIRequest {
    public typealias Result = SendResult
    public static let method = AgentMethod.send
    /// A device of this account, a contact's account, or one of a contact's devices.
    public var to: String
    public var text: String
    public init(to: String, text: String) { (self.to, self.text) = (to, text) }
}

public struct InboxRequest: APIRequest {
    public typealias Result = InboxResult
    public static let method = AgentMethod.inbox
    /// Default 100.
    public var limit: Int?
    /// Only messages from this contact's account.
    public var contact: String?
    public init(limit: Int? = nil, contact: String? = nil) { (self.limit, self.contact) = (limit, contact) }
}

public struct ReadRequest: APIRequest {
    public typealias Result = ReadResult
    public static let method = AgentMethod.read
    /// A message's server code; or `contact` with `all`.
    public var code: UInt64?
    public var contact: String?
    public var all: Bool?
    public init(code: UInt64? = nil, contact: String? = nil, all: Bool? = nil) {
        (self.code, self.contact, self.all) = (code, contact, all)
    }
}

// MARK: - Contacts

public struct ContactsRequest: APIRequest {
    public typealias Result = ContactsResult
    public static let method = AgentMethod.contacts
    public init() {}
}

/// `contactAdd`, `contactAccept` and `contactRemove` take the same parameter.
public protocol ContactChangeRequest: APIRequest where Result == EmptyResult {
    var contact: String { get }
    init(contact: String)
}

public struct ContactAddRequest: ContactChangeRequest {
    public static let method = AgentMethod.contactAdd
    public var contact: String
    public init(contact: String) { self.contact = contact }
}

public struct ContactAcceptRequest: ContactChangeRequest {
    public static let method = AgentMethod.contactAccept
    public var contact: String
    public init(contact: String) { self.contact = contact }
}

public struct ContactRemoveRequest: ContactChangeRequest {
    public static let method = AgentMethod.contactRemove
    public var contact: String
    public init(contact: String) { self.contact = contact }
}

public struct ContactVerifyRequest: APIRequest {
    public typealias Result = SafetyCodeResult
    public static let method = AgentMethod.contactVerify
    public var contact: String
    /// The codes match: mark the contact verified.
    public var confirm: Bool?
    public init(contact: String, confirm: Bool? = nil) { (self.contact, self.confirm) = (contact, confirm) }
}

public struct ContactTrustRequest: APIRequest {
    public typealias Result = SafetyCodeResult
    public static let method = AgentMethod.contactTrust
    public var contact: String
    /// Needed when the contact was verified.
    public var confirm: Bool?
    public init(contact: String, confirm: Bool? = nil) { (self.contact, self.confirm) = (contact, confirm) }
}

public struct DiscoverRequest: APIRequest {
    public typealias Result = DiscoverResult
    public static let method = AgentMethod.discover
    public init() {}
}

// MARK: - File transfers

public struct PushRequest: APIRequest {
    public typealias Result = TransferInfo
    public static let method = AgentMethod.push
    /// A device id of this account.
    public var to: String
    /// Absolute paths of files and folders.
    public var paths: [String]
    /// `direct` or `ask` (default).
    public var receive: String?
    /// How long the offer waits for an answer.
    public var ttlSeconds: UInt32?
    public init(to: String, paths: [String], receive: String? = nil, ttlSeconds: UInt32? = nil) {
        (self.to, self.paths, self.receive, self.ttlSeconds) = (to, paths, receive, ttlSeconds)
    }
}

public struct TransfersRequest: APIRequest {
    public typealias Result = TransfersResult
    public static let method = AgentMethod.transfers
    public init() {}
}

/// `transfer`, `accept` and `reject` name a transfer by its id or a unique start of it.
public protocol TransferActionRequest: APIRequest where Result == TransferInfo {
    var id: String { get }
}

public struct TransferRequest: TransferActionRequest {
    public static let method = AgentMethod.transfer
    public var id: String
    public init(id: String) { self.id = id }
}

public struct AcceptRequest: TransferActionRequest {
    public static let method = AgentMethod.accept
    public var id: String
    /// An absolute folder to land in; default the receive folder.
    public var folder: String?
    public init(id: String, folder: String? = nil) { (self.id, self.folder) = (id, folder) }
}

public struct RejectRequest: TransferActionRequest {
    public static let method = AgentMethod.reject
    public var id: String
    public init(id: String) { self.id = id }
}

// MARK: - The roster and policies

public struct RosterRequest: APIRequest {
    public typealias Result = RosterResult
    public static let method = AgentMethod.roster
    public init() {}
}

/// `approve`, `deny`, `revoke` and `handOver` name one device.
public protocol RosterDeviceRequest: APIRequest where Result == RosterResult {
    var to: String { get }
    init(to: String)
}

public struct ApproveDeviceRequest: RosterDeviceRequest {
    public static let method = AgentMethod.approve
    public var to: String
    public init(to: String) { self.to = to }
}

public struct DenyRequest: RosterDeviceRequest {
    public static let method = AgentMethod.deny
    public var to: String
    public init(to: String) { self.to = to }
}

public struct RevokeRequest: RosterDeviceRequest {
    public static let method = AgentMethod.revoke
    public var to: String
    public init(to: String) { self.to = to }
}

public struct HandOverRequest: RosterDeviceRequest {
    public static let method = AgentMethod.handOver
    public var to: String
    public init(to: String) { self.to = to }
}

public struct AutoApproveRequest: APIRequest {
    public typealias Result = RosterResult
    public static let method = AgentMethod.autoApprove
    /// `90s`, `10m`, `1h` at most; `off` (default) closes the window.
    public var duration: String?
    public init(duration: String? = nil) { self.duration = duration }
}

public struct RecoverRequest: APIRequest {
    public typealias Result = RosterResult
    public static let method = AgentMethod.recover
    /// The recovery key's text.
    public var text: String
    public init(text: String) { self.text = text }
}

public struct PolicyShowRequest: APIRequest {
    public typealias Result = PolicyResult
    public static let method = AgentMethod.policyShow
    /// One device; default every secondary (on the primary) or this device.
    public var to: String?
    public init(to: String? = nil) { self.to = to }
}

public struct PolicySetRequest: APIRequest {
    public typealias Result = PolicyResult
    public static let method = AgentMethod.policySet
    public var to: String
    /// `key=value` settings.
    public var settings: [String]
    public init(to: String, settings: [String]) { (self.to, self.settings) = (to, settings) }
}

/// `events`: the first line of a connection that then carries `AgentEvent` lines.
public struct EventsRequest: APIRequest {
    public typealias Result = EmptyResult
    public static let method = AgentMethod.events
    public init() {}
}
