/// The profile's networks (Protocol/local-api.md §Networks): each Kith account the agent holds
/// and each XMPP account added to the profile, with its state.

/// Every network of the profile: the Kith accounts first, then the XMPP accounts.
public struct NetworksRequest: APIRequest {
    public typealias Result = NetworksResult
    public static let method = AgentMethod.networks
    public init() {}
}

/// Adds an XMPP account, `xmpp:alice@example.org`, once it signed in. Added again, its settings
/// (password, server, pinned certificate) are replaced and its roster is kept.
public struct NetworkAddRequest: APIRequest {
    public typealias Result = NetworkEntry
    public static let method = AgentMethod.networkAdd
    public var address: String
    /// `HOST:PORT` of the account's server; default the JID's domain, port 5222.
    public var server: String?
    public var password: String
    /// The SHA-256 of the server's certificate (`AB:CD:…`) to accept instead of the system's trust.
    public var certificate: String?

    public init(address: String, server: String? = nil, password: String, certificate: String? = nil) {
        (self.address, self.server, self.password, self.certificate) = (address, server, password, certificate)
    }
}

/// Signs out of an XMPP account and forgets it: its password and its roster.
public struct NetworkRemoveRequest: APIRequest {
    public typealias Result = EmptyResult
    public static let method = AgentMethod.networkRemove
    public var address: String
    public init(address: String) { self.address = address }
}

/// `kith login` with no arguments: every network of the profile signs in now (one that is
/// waiting to try again tries at once; one that failed tries again with its stored settings).
/// Answers once each has signed in or failed, or after 15 s.
public struct NetworksLoginRequest: APIRequest {
    public typealias Result = NetworksResult
    public static let method = AgentMethod.networksLogin
    public init() {}
}

public struct NetworksResult: Codable, Sendable, Equatable {
    public var networks: [NetworkEntry]
    public init(networks: [NetworkEntry]) { self.networks = networks }
}

/// One network of the profile and how it stands.
public struct NetworkEntry: Codable, Sendable, Equatable {
    /// `xmpp:alice@example.org`, or `kith:alice@KEY` (the account and its server's key) for a Kith account.
    public var address: String
    /// `kith` or `xmpp`.
    public var kind: String
    /// `online` (signed in), `connecting`, `waiting` (to try again after a failure that may pass),
    /// `failed` (until the user acts: a wrong password, an untrusted certificate).
    public var state: String
    /// Why it is not online, in words.
    public var problem: String?
    /// `HOST:PORT` it connects to.
    public var server: String
    /// The network's contacts as it last said (an XMPP roster's items; a Kith account's contacts).
    public var contacts: Int
    /// The last sign-in's cost, for XMPP accounts.
    public var lastLogin: NetworkLogin?

    public init(address: String, kind: String, state: String, problem: String? = nil, server: String, contacts: Int,
                lastLogin: NetworkLogin? = nil) {
        (self.address, self.kind, self.state, self.problem, self.server, self.contacts, self.lastLogin) =
            (address, kind, state, problem, server, contacts, lastLogin)
    }
}

/// What a sign-in cost: bytes each way, the turns it waited for the server, and the roster
/// items the server sent (none when the roster had not changed since the version held).
public struct NetworkLogin: Codable, Sendable, Equatable {
    public var bytesIn: Int
    public var bytesOut: Int
    public var roundTrips: Int
    public var rosterItemsReceived: Int
    /// The server said the held roster version is current.
    public var rosterUnchanged: Bool
    public var atMillis: UInt64

    public init(bytesIn: Int, bytesOut: Int, roundTrips: Int, rosterItemsReceived: Int, rosterUnchanged: Bool, atMillis: UInt64) {
        (self.bytesIn, self.bytesOut, self.roundTrips, self.rosterItemsReceived, self.rosterUnchanged, self.atMillis) =
            (bytesIn, bytesOut, roundTrips, rosterItemsReceived, rosterUnchanged, atMillis)
    }
}
