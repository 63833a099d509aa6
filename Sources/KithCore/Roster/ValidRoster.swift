import KithCrypto
import KithWire

/// One device of a checked roster, with typed key and role (`primary` or `secondary`: a roster
/// with an unknown role is not a `ValidRoster`).
public struct RosterMember: Sendable, Hashable {
    public var deviceID: String
    public var key: SigningPublicKey
    public var role: RosterRole
    public var name: String

    public init(deviceID: String, key: SigningPublicKey, role: RosterRole, name: String) {
        self.deviceID = deviceID
        self.key = key
        self.role = role
        self.name = name
    }

    public var wire: RosterDevice { RosterDevice(deviceID: deviceID, key: key.rawValue, role: role, name: name) }
}

/// Why a decoded roster is not a roster (Protocol/roster.md §Acceptance, rule 3). Checked per
/// device in list order (id, role, key, repeated id, repeated key), then the recovery key,
/// then the number of primaries; the first problem found is the one reported.
public enum RosterProblem: Error, Sendable, Equatable, CustomStringConvertible {
    /// An empty device id, or `recovery`.
    case badDeviceID(String)
    case unknownRole(deviceID: String, role: UInt8)
    /// A key with no X25519 form (small order, not a point, outside the prime-order subgroup);
    /// `recovery` for the recovery key.
    case unusableKey(deviceID: String)
    case duplicateDeviceID(String)
    case duplicateKey(deviceID: String, sameAs: String)
    case noPrimary
    case severalPrimaries([String])

    /// The name test vectors use.
    public var name: String {
        switch self {
        case .badDeviceID: "badDeviceID"
        case .unknownRole: "unknownRole"
        case .unusableKey: "unusableKey"
        case .duplicateDeviceID: "duplicateDeviceID"
        case .duplicateKey: "duplicateKey"
        case .noPrimary: "noPrimary"
        case .severalPrimaries: "severalPrimaries"
        }
    }

    public var description: String {
        switch self {
        case .badDeviceID(let id): "device id \"\(id)\" is not allowed"
        case .unknownRole(let id, let role): "\(id) has unknown role \(role)"
        case .unusableKey(let id): id == RosterSigning.recoverySigner ? "the recovery key is not a usable Ed25519 key"
            : "the key of \(id) is not a usable Ed25519 key"
        case .duplicateDeviceID(let id): "\(id) is listed twice"
        case .duplicateKey(let id, let other): "\(id) has the same key as \(other)"
        case .noPrimary: "it names no primary"
        case .severalPrimaries(let ids): "it names \(ids.count) primaries (\(ids.joined(separator: ", ")))"
        }
    }
}

/// A roster that passed the structural rules: exactly one primary, distinct ids and keys, every
/// key usable. Whether it may replace another is `RosterBook`'s business.
public struct ValidRoster: Sendable, Equatable {
    public let wire: Roster
    public let members: [RosterMember]
    public let primary: RosterMember
    public let recoveryKey: SigningPublicKey

    public var account: String { wire.account }
    public var epoch: UInt32 { wire.epoch }
    public var version: UInt64 { wire.version }
    public var issuedAtMillis: UInt64 { wire.issuedAtMillis }

    public init(_ roster: Roster) throws(RosterProblem) {
        var members: [RosterMember] = []
        var ids = Set<String>()
        var keys: [SigningPublicKey: String] = [:]
        for device in roster.devices {
            guard !device.deviceID.isEmpty, device.deviceID != RosterSigning.recoverySigner else {
                throw .badDeviceID(device.deviceID)
            }
            if case .unknown(let role) = device.role { throw .unknownRole(deviceID: device.deviceID, role: role) }
            guard let key = SigningPublicKey(rawValue: device.key), key.noisePublicKey != nil else {
                throw .unusableKey(deviceID: device.deviceID)
            }
            guard ids.insert(device.deviceID).inserted else { throw .duplicateDeviceID(device.deviceID) }
            if let other = keys[key] { throw .duplicateKey(deviceID: device.deviceID, sameAs: other) }
            keys[key] = device.deviceID
            members.append(RosterMember(deviceID: device.deviceID, key: key, role: device.role, name: device.name))
        }
        guard let recoveryKey = SigningPublicKey(rawValue: roster.recoveryKey), recoveryKey.noisePublicKey != nil else {
            throw .unusableKey(deviceID: RosterSigning.recoverySigner)
        }
        let primaries = members.filter { $0.role == .primary }
        guard let primary = primaries.first else { throw .noPrimary }
        guard primaries.count == 1 else { throw .severalPrimaries(primaries.map(\.deviceID)) }
        self.wire = roster
        self.members = members
        self.primary = primary
        self.recoveryKey = recoveryKey
    }

    public func member(_ deviceID: String) -> RosterMember? { members.first { $0.deviceID == deviceID } }

    /// Whether `deviceID` is in the roster with exactly this key.
    public func contains(deviceID: String, key: SigningPublicKey) -> Bool { member(deviceID)?.key == key }

    /// "roster 4", or "roster 4 of epoch 1" once a recovery has happened: for log lines.
    public var label: String { Self.label(epoch: epoch, version: version) }

    static func label(epoch: UInt32, version: UInt64) -> String {
        epoch == 0 ? "roster \(version)" : "roster \(version) of epoch \(epoch)"
    }

    /// Rosters are ordered by (epoch, version).
    func isNewer(epoch: UInt32, version: UInt64) -> Bool {
        (epoch, version) > (self.epoch, self.version)
    }
}

// MARK: - Making the next roster (on the primary, or with the recovery key)

extension Roster {
    /// An account's first roster: epoch 0, version 1, the first device as its primary.
    public static func first(account: String, primary: RosterMember, recoveryKey: SigningPublicKey,
                             issuedAtMillis: UInt64) -> Roster {
        var device = primary
        device.role = .primary
        return Roster(account: account, epoch: 0, version: 1, issuedAtMillis: issuedAtMillis,
                      devices: [device.wire], recoveryKey: recoveryKey.rawValue)
    }
}

/// Why the next roster cannot be made.
public enum RosterEditError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The held roster has the largest version: only a recovery (the next epoch) can follow it.
    case versionExhausted
    /// The held roster is in the last epoch.
    case epochExhausted

    public var description: String {
        switch self {
        case .versionExhausted: "the roster is at the last version; only the recovery key can sign a successor"
        case .epochExhausted: "the roster is in the last epoch"
        }
    }
}

extension ValidRoster {
    /// The same roster with the next version, in the same epoch; the primary signs it.
    public func next(members: [RosterMember], issuedAtMillis: UInt64) throws(RosterEditError) -> Roster {
        guard version < .max else { throw .versionExhausted }
        return Roster(account: account, epoch: epoch, version: version + 1, issuedAtMillis: issuedAtMillis,
                      devices: members.map(\.wire), recoveryKey: recoveryKey.rawValue)
    }

    /// Approves a pending device (or renames one already listed with this key): a device of this
    /// account as a secondary, a device of its master's as linked (Protocol/links.md §The linked role).
    public func approving(deviceID: String, key: SigningPublicKey, name: String, issuedAtMillis: UInt64) throws(RosterEditError) -> Roster {
        var list = members.filter { $0.deviceID != deviceID }
        list.append(RosterMember(deviceID: deviceID, key: key, role: governedRole(of: deviceID), name: name))
        return try next(members: list, issuedAtMillis: issuedAtMillis)
    }

    /// The role a device other than the primary has: secondary for a device of this account,
    /// linked for one of another (the master's).
    public func governedRole(of deviceID: String) -> RosterRole {
        ReadState.account(ofDevice: deviceID) == account ? .secondary : .linked
    }

    /// The members without the linked devices of any account but `master` (the master this account
    /// has now, nil when none): what its primary signs after an unlink or a change of master
    /// (Protocol/links.md). Nil when no device would leave.
    public func releasingLinkedDevices(keeping master: String?) -> [RosterMember]? {
        let kept = members.filter { $0.role != .linked || ReadState.account(ofDevice: $0.deviceID) == master ?? "" }
        return kept.count < members.count ? kept : nil
    }

    /// Revokes a device.
    public func removing(_ deviceID: String, issuedAtMillis: UInt64) throws(RosterEditError) -> Roster {
        try next(members: members.filter { $0.deviceID != deviceID }, issuedAtMillis: issuedAtMillis)
    }

    /// Hands the primary role to `deviceID` (a listed device); the old primary stays, as a
    /// secondary (or linked, when it is a device of the master's). Signed by the old primary.
    public func handingOver(to deviceID: String, issuedAtMillis: UInt64) throws(RosterEditError) -> Roster {
        try next(members: members.map { m in
            var m = m
            if m.deviceID == deviceID { m.role = .primary } else if m.role == .primary { m.role = governedRole(of: m.deviceID) }
            return m
        }, issuedAtMillis: issuedAtMillis)
    }

    /// Recovery: the next epoch (version 1 in it), `newPrimary` as primary (added if it is not
    /// listed), the old primary removed, and the recovery key replaced (a used one has been typed
    /// in). Signed with the old recovery key.
    public func recovering(newPrimary: RosterMember, newRecoveryKey: SigningPublicKey,
                           issuedAtMillis: UInt64) throws(RosterEditError) -> Roster {
        guard epoch < .max else { throw .epochExhausted }
        var list = members.filter { $0.deviceID != primary.deviceID && $0.deviceID != newPrimary.deviceID }
        var promoted = newPrimary
        promoted.role = .primary
        list.insert(promoted, at: 0)
        return Roster(account: account, epoch: epoch + 1, version: 1, issuedAtMillis: issuedAtMillis,
                      devices: list.map(\.wire), recoveryKey: newRecoveryKey.rawValue)
    }
}

extension RosterRole {
    /// A device the primary governs with a policy: a secondary, or a linked device of the master's.
    public var isGoverned: Bool { self == .secondary || self == .linked }
}
