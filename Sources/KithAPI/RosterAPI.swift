/// Local API results for the roster and policies (Protocol/local-api.md §Devices and approval).

public struct RosterMemberEntry: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    /// "primary" or "secondary".
    public var role: String
    public var fingerprint: String

    public init(id: String, name: String, role: String, fingerprint: String) {
        self.id = id
        self.name = name
        self.role = role
        self.fingerprint = fingerprint
    }
}

public struct PendingEntry: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var fingerprint: String
    public var online: Bool

    public init(id: String, name: String, fingerprint: String, online: Bool) {
        self.id = id
        self.name = name
        self.fingerprint = fingerprint
        self.online = online
    }
}

public struct RosterResult: Codable, Sendable, Equatable {
    public var account: String
    /// This device's role: "primary", "secondary" or "pending".
    public var role: String
    public var deviceID: String
    public var fingerprint: String
    /// "roster 4" (or "roster 1 of epoch 1" after a recovery); nil while no roster is held.
    public var roster: String?
    public var primary: String?
    public var primaryFingerprint: String?
    public var members: [RosterMemberEntry]
    public var pending: [PendingEntry]
    /// While `kith approve --auto` is open (on the primary).
    public var autoApproveUntilMillis: UInt64?
    public var autoApproveRemaining: Int?
    /// After a recovery: the new recovery key, shown once.
    public var recoveryKey: String?
    /// What happened, for people ("asked alice-PC-1 to approve alice-TV-1").
    public var note: String?

    public init(account: String, role: String, deviceID: String, fingerprint: String, roster: String? = nil,
                primary: String? = nil, primaryFingerprint: String? = nil, members: [RosterMemberEntry],
                pending: [PendingEntry], autoApproveUntilMillis: UInt64? = nil, autoApproveRemaining: Int? = nil,
                recoveryKey: String? = nil, note: String? = nil) {
        self.account = account
        self.role = role
        self.deviceID = deviceID
        self.fingerprint = fingerprint
        self.roster = roster
        self.primary = primary
        self.primaryFingerprint = primaryFingerprint
        self.members = members
        self.pending = pending
        self.autoApproveUntilMillis = autoApproveUntilMillis
        self.autoApproveRemaining = autoApproveRemaining
        self.recoveryKey = recoveryKey
        self.note = note
    }
}

public struct PolicyEntry: Codable, Sendable, Equatable {
    public var device: String
    /// The policy's version, or nil when none is set (the device follows its own settings).
    public var version: UInt64?
    /// `key=value` lines (`PolicySettings`), as people read them.
    public var settings: [String]
    /// The same settings as an object, `{"receive": "ask", "push": "none"}`, for programs
    /// (nil from agents before it).
    public var values: [String: String]?

    public init(device: String, version: UInt64? = nil, settings: [String]) {
        self.device = device
        self.version = version
        self.settings = settings
        values = Dictionary(settings.map { line in
            let parts = line.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            return (parts[0], parts.count == 2 ? parts[1] : "")
        }, uniquingKeysWith: { _, last in last })
    }
}

public struct PolicyResult: Codable, Sendable, Equatable {
    public var policies: [PolicyEntry]

    public init(policies: [PolicyEntry]) {
        self.policies = policies
    }
}
