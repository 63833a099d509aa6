import KithCrypto
import KithWire

/// Why a signed policy was refused (Protocol/roster.md §Policies, rules P1–P9).
public enum PolicyRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    /// P1.
    case wrongKind(DocumentKind)
    /// P2.
    case malformed(WireError)
    /// P3.
    case invalid(PolicyProblem)
    /// P4.
    case wrongAccount(expected: String, found: String)
    /// P5: no roster is held, so no primary is known.
    case noRoster
    /// P6: signed for another epoch than the held roster's.
    case wrongEpoch(epoch: UInt32, rosterEpoch: UInt32)
    /// P7: not newer, by (epoch, version), than the policy held for that device.
    case notNewer(deviceID: String, version: UInt64, heldVersion: UInt64)
    /// P8.
    case signerNotPrimary(signer: String, roster: String, primary: String)
    /// P8.
    case badSignature(signer: String)
    /// P9: governs a device the roster does not list.
    case notInRoster(deviceID: String, roster: String)
    /// P9: governs the primary, which no policy governs.
    case governsPrimary(deviceID: String)

    public var name: String {
        switch self {
        case .wrongKind: "wrongKind"
        case .malformed: "malformed"
        case .invalid: "invalidPolicy"
        case .wrongAccount: "wrongAccount"
        case .noRoster: "noRoster"
        case .wrongEpoch: "wrongEpoch"
        case .notNewer: "notNewer"
        case .signerNotPrimary: "signerNotPrimary"
        case .badSignature: "badSignature"
        case .notInRoster: "notInRoster"
        case .governsPrimary: "governsPrimary"
        }
    }

    public var description: String {
        switch self {
        case .wrongKind(let kind): "document of kind \(kind.rawValue) is not a policy"
        case .malformed(let error): "policy does not decode: \(error)"
        case .invalid(let problem): "policy is invalid: \(problem)"
        case .wrongAccount(let expected, let found): "policy is for account \(found), not \(expected)"
        case .noRoster: "policy arrived before any roster: no primary is known"
        case .wrongEpoch(let epoch, let rosterEpoch): "policy of epoch \(epoch), but the roster is in epoch \(rosterEpoch)"
        case .notNewer(let id, let version, let held): "policy version \(version) for \(id) is not newer than \(held)"
        case .signerNotPrimary(let signer, let roster, let primary):
            "policy signed by \(signer), which is not the primary of \(roster) (\(primary))"
        case .badSignature(let signer): "bad signature on policy (signer \(signer))"
        case .notInRoster(let id, let roster): "policy governs \(id), which is not in \(roster)"
        case .governsPrimary(let id): "policy governs \(id), the primary"
        }
    }
}

/// A policy a PolicyBook accepted.
public struct AcceptedPolicy: Sendable, Equatable {
    public let policy: DevicePolicy
    public let permissions: DevicePermissions
    /// Exactly as received: what to store and pass on.
    public let document: SignedDocument
}

public enum PolicyDecision: Sendable, Equatable {
    /// `previous` is the policy it replaces for the same device, if any.
    case accepted(AcceptedPolicy, previous: AcceptedPolicy?)
    /// The same body as the policy held for that device.
    case unchanged
    case refused(PolicyRefusal)
}

/// The latest accepted policy of each device of one account, and the rules by which a new one
/// is taken (Protocol/roster.md §Policies): signed by the primary of the roster the
/// `RosterBook` holds, for a secondary it lists, newer than the one held. A secondary enforces
/// its own; the primary keeps everyone's to show and to raise their versions.
public struct PolicyBook: Sendable {
    public let account: String
    public private(set) var policies: [String: AcceptedPolicy] = [:]

    public init(account: String) {
        self.account = account
    }

    /// Puts back a policy accepted before (from the device's own store): structure and account
    /// are checked again, not the signature.
    public mutating func restore(_ document: SignedDocument) throws(PolicyRefusal) {
        let (policy, permissions) = try Self.check(document, account: account)
        policies[policy.deviceID] = AcceptedPolicy(policy: policy, permissions: permissions, document: document)
    }

    /// Decides on a signed policy against the roster `roster` holds; on `.accepted` the book
    /// holds it.
    public mutating func consider(_ signed: SignedDocument, roster: RosterBook) -> PolicyDecision {
        do throws(PolicyRefusal) {
            let (policy, permissions) = try Self.check(signed, account: account)
            guard let current = roster.current else { throw .noRoster }
            let held = policies[policy.deviceID]
            if let held, held.document.body == signed.body { return .unchanged }
            guard policy.epoch == current.epoch else {
                throw .wrongEpoch(epoch: policy.epoch, rosterEpoch: current.epoch)
            }
            if let held, (policy.epoch, policy.version) <= (held.policy.epoch, held.policy.version) {
                throw .notNewer(deviceID: policy.deviceID, version: policy.version, heldVersion: held.policy.version)
            }
            guard signed.signer == current.primary.deviceID else {
                throw .signerNotPrimary(signer: signed.signer, roster: current.label, primary: current.primary.deviceID)
            }
            guard RosterSigning.signatureIsValid(signed, key: current.primary.key) else {
                throw .badSignature(signer: signed.signer)
            }
            guard let governed = current.member(policy.deviceID) else {
                throw .notInRoster(deviceID: policy.deviceID, roster: current.label)
            }
            guard governed.role.isGoverned else { throw .governsPrimary(deviceID: policy.deviceID) }
            let accepted = AcceptedPolicy(policy: policy, permissions: permissions, document: signed)
            policies[policy.deviceID] = accepted
            return .accepted(accepted, previous: held)
        } catch {
            return .refused(error)
        }
    }

    /// Decides on a document's bytes (its field list); bytes that do not decode as a
    /// SignedDocument are refused as `malformed`.
    public mutating func consider(encoded bytes: some Collection<UInt8>, roster: RosterBook) -> PolicyDecision {
        do {
            return consider(try RosterSigning.decodeDocument(bytes), roster: roster)
        } catch {
            return .refused(.malformed(error))
        }
    }

    /// What `deviceID` may do: nil when no policy governs it — the primary, a device not in the
    /// roster, or a secondary the primary has set no policy for — and it follows its own
    /// settings (for a device not in the roster: it gets nothing anyway).
    public func permissions(of deviceID: String, roster: RosterBook) -> DevicePermissions? {
        guard roster.role(of: deviceID)?.isGoverned == true else { return nil }
        return policies[deviceID]?.permissions
    }

    /// Whether `deviceID` may approve devices: the primary always, a secondary if its policy
    /// says so.
    public func mayApprove(_ deviceID: String, roster: RosterBook) -> Bool {
        switch roster.role(of: deviceID) {
        case .primary: true
        case .secondary, .linked: policies[deviceID]?.permissions.mayApprove ?? false
        case .unknown, nil: false  // not in the roster (a ValidRoster has no unknown roles)
        }
    }

    public func document(for deviceID: String) -> SignedDocument? { policies[deviceID]?.document }

    /// The version a new policy for `deviceID` needs: one more than the held one in this epoch,
    /// else 1.
    public func nextVersion(for deviceID: String, epoch: UInt32) -> UInt64 {
        guard let held = policies[deviceID]?.policy, held.epoch == epoch else { return 1 }
        return held.version + 1
    }

    /// Rules P1–P4.
    static func check(_ signed: SignedDocument, account: String) throws(PolicyRefusal) -> (DevicePolicy, DevicePermissions) {
        guard signed.kind == .policy else { throw .wrongKind(signed.kind) }
        let policy: DevicePolicy
        do {
            try signed.validate()
            policy = try RosterSigning.policy(in: signed)
        } catch {
            throw .malformed(error)
        }
        let permissions: DevicePermissions
        do { permissions = try DevicePermissions(policy) } catch { throw .invalid(error) }
        guard policy.account == account else { throw .wrongAccount(expected: account, found: policy.account) }
        return (policy, permissions)
    }
}
