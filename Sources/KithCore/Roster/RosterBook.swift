import KithCrypto
import KithWire

/// Why a signed roster was refused (Protocol/roster.md §Acceptance): each case names its rule,
/// and `description` is a line for the log ("signed by alice-PC-2, which is not the primary of
/// roster 4").
public enum RosterRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    /// Rule 1: the document is not a roster.
    case wrongKind(DocumentKind)
    /// Rule 2: the document or its body does not decode, or breaks a schema limit.
    case malformed(WireError)
    /// Rule 3: the roster breaks a structural rule.
    case invalid(RosterProblem)
    /// Rule 4.
    case wrongAccount(expected: String, found: String)
    /// Rule 5a: a first roster that does not list this device with its key.
    case notForThisDevice(deviceID: String, roster: String)
    /// Rule 5b: a first roster signed by someone other than the primary it names or its own
    /// recovery key.
    case firstRosterSigner(signer: String, primary: String)
    /// Rule 6a: not newer, by (epoch, version), than the held roster.
    case notNewer(epoch: UInt32, version: UInt64, heldEpoch: UInt32, heldVersion: UInt64)
    /// Rule 6b: the signer is neither the held roster's primary nor `recovery`.
    case signerNotPrimary(signer: String, held: String, primary: String)
    /// Rules 5c and 6c.
    case badSignature(signer: String)
    /// Rule 6d: a roster signed by the primary moved to another epoch.
    case epochChanged(from: UInt32, to: UInt32)
    /// Rule 6d: a roster signed by the primary replaced the recovery key.
    case recoveryKeyChanged
    /// Rule 6e: a roster signed with the recovery key did not raise the epoch.
    case epochNotRaised(epoch: UInt32)

    /// The name test vectors use.
    public var name: String {
        switch self {
        case .wrongKind: "wrongKind"
        case .malformed: "malformed"
        case .invalid: "invalidRoster"
        case .wrongAccount: "wrongAccount"
        case .notForThisDevice: "notForThisDevice"
        case .firstRosterSigner: "firstRosterSigner"
        case .notNewer: "notNewer"
        case .signerNotPrimary: "signerNotPrimary"
        case .badSignature: "badSignature"
        case .epochChanged: "epochChanged"
        case .recoveryKeyChanged: "recoveryKeyChanged"
        case .epochNotRaised: "epochNotRaised"
        }
    }

    public var description: String {
        switch self {
        case .wrongKind(let kind): "document of kind \(kind.rawValue) is not a roster"
        case .malformed(let error): "roster does not decode: \(error)"
        case .invalid(let problem): "roster is invalid: \(problem)"
        case .wrongAccount(let expected, let found): "roster is for account \(found), not \(expected)"
        case .notForThisDevice(let id, let roster): "\(roster) does not list this device (\(id)) with its key"
        case .firstRosterSigner(let signer, let primary):
            "first roster is signed by \(signer), not by the primary it names (\(primary)) or its recovery key"
        case .notNewer(let epoch, let version, let heldEpoch, let heldVersion):
            epoch == heldEpoch ? "version \(version) is not newer than \(heldVersion)"
                : "\(ValidRoster.label(epoch: epoch, version: version)) is not newer than \(ValidRoster.label(epoch: heldEpoch, version: heldVersion))"
        case .signerNotPrimary(let signer, let held, let primary):
            "signed by \(signer), which is not the primary of \(held) (\(primary))"
        case .badSignature(let signer): "bad signature (signer \(signer))"
        case .epochChanged(let from, let to): "the primary moved the epoch from \(from) to \(to); only the recovery key may"
        case .recoveryKeyChanged: "the primary replaced the recovery key; only the recovery key may"
        case .epochNotRaised(let epoch): "signed with the recovery key but stays in epoch \(epoch)"
        }
    }
}

/// What changed when a roster was accepted: what the agent acts on (drop sessions of removed
/// devices, tell its user, store `document` before anything else).
public struct RosterChange: Sendable, Equatable {
    public let previous: ValidRoster?
    public let current: ValidRoster
    /// The accepted document, exactly as received: what to store and pass on.
    public let document: SignedDocument

    /// Devices (id and key) in the new roster that were not in the old one.
    public var added: [RosterMember] {
        current.members.filter { m in !(previous?.contains(deviceID: m.deviceID, key: m.key) ?? false) }
    }

    /// Devices (id and key) in the old roster that are not in the new one.
    public var removed: [RosterMember] {
        (previous?.members ?? []).filter { m in !current.contains(deviceID: m.deviceID, key: m.key) }
    }

    public var primaryChanged: Bool { previous.map { $0.primary != current.primary } ?? false }
    public var byRecovery: Bool { document.signer == RosterSigning.recoverySigner }
}

public enum RosterDecision: Sendable, Equatable {
    case accepted(RosterChange)
    /// The same body as the held roster (the server sends it again after every login).
    case unchanged
    case refused(RosterRefusal)
}

/// The roster one device holds, and the rules by which it takes a new one (Protocol/roster.md
/// §Acceptance). Pure: no I/O, no clock. The agent restores it from the stored document,
/// feeds it every roster the server or a sibling sends, and stores the document of each
/// `.accepted` decision before acting on it. The server can keep one per account as an
/// observer (no holder) to refuse junk before storing it.
public struct RosterBook: Sendable {
    /// The device holding the book: the first roster must list it with this key.
    public struct Holder: Sendable, Equatable {
        public var deviceID: String
        public var key: SigningPublicKey
        public init(deviceID: String, key: SigningPublicKey) {
            self.deviceID = deviceID
            self.key = key
        }
    }

    public let account: String
    /// Nil for an observer (the server): rule 5a is skipped.
    public let holder: Holder?
    public private(set) var current: ValidRoster?
    public private(set) var document: SignedDocument?

    public init(account: String, holder: Holder?) {
        self.account = account
        self.holder = holder
    }

    /// The book with a document it accepted before (from the device's own store). Its structure
    /// and account are checked again, not the chain of signatures that led to it.
    public init(account: String, holder: Holder?, restoring document: SignedDocument) throws(RosterRefusal) {
        self.init(account: account, holder: holder)
        let roster = try Self.check(document, account: account)
        current = roster
        self.document = document
    }

    // MARK: Queries

    public var version: UInt64? { current?.version }
    public var epoch: UInt32? { current?.epoch }
    public var primary: RosterMember? { current?.primary }

    /// Whether a device may have a session, messages and files: listed with exactly this key.
    /// Nothing is approved while no roster is held.
    public func isApproved(deviceID: String, key: SigningPublicKey) -> Bool {
        current?.contains(deviceID: deviceID, key: key) ?? false
    }

    public func role(of deviceID: String) -> RosterRole? { current?.member(deviceID)?.role }

    /// Whether the holder is the primary of the held roster.
    public var holderIsPrimary: Bool {
        guard let holder, let primary else { return false }
        return primary.deviceID == holder.deviceID && primary.key == holder.key
    }

    /// The devices of the server's DeviceList that the roster does not list with their key:
    /// logged in, but not approved.
    public func pending(in devices: [DeviceInfo]) -> [DeviceInfo] {
        devices.filter { d in
            guard let key = SigningPublicKey(rawValue: d.key) else { return true }
            return !isApproved(deviceID: d.deviceID, key: key)
        }
    }

    // MARK: Acceptance

    /// Decides on a signed roster; on `.accepted` the book holds it.
    public mutating func consider(_ signed: SignedDocument) -> RosterDecision {
        do {
            let candidate = try Self.check(signed, account: account)
            if let held = current, let heldDocument = document {
                if signed.body == heldDocument.body { return .unchanged }
                try Self.checkSuccessor(candidate, signed, of: held)
            } else {
                try checkFirst(candidate, signed)
            }
            let change = RosterChange(previous: current, current: candidate, document: signed)
            current = candidate
            document = signed
            return .accepted(change)
        } catch {
            return .refused(error)
        }
    }

    /// Decides on a stored or received document's bytes (its field list): bytes that do not
    /// decode as a SignedDocument are refused as `malformed`.
    public mutating func consider(encoded bytes: some Collection<UInt8>) -> RosterDecision {
        do {
            return consider(try RosterSigning.decodeDocument(bytes))
        } catch {
            return .refused(.malformed(error))
        }
    }

    /// Rules 1–4: a roster of this account, whoever signed it.
    static func check(_ signed: SignedDocument, account: String) throws(RosterRefusal) -> ValidRoster {
        guard signed.kind == .roster else { throw .wrongKind(signed.kind) }
        let roster: Roster
        do {
            try signed.validate()
            roster = try RosterSigning.roster(in: signed)
        } catch {
            throw .malformed(error)
        }
        let valid: ValidRoster
        do { valid = try ValidRoster(roster) } catch { throw .invalid(error) }
        guard valid.account == account else { throw .wrongAccount(expected: account, found: valid.account) }
        return valid
    }

    /// Rule 5: trust on first use.
    private func checkFirst(_ candidate: ValidRoster, _ signed: SignedDocument) throws(RosterRefusal) {
        if let holder, !candidate.contains(deviceID: holder.deviceID, key: holder.key) {
            throw .notForThisDevice(deviceID: holder.deviceID, roster: candidate.label)
        }
        try Self.checkSelfSigned(candidate, signed)
    }

    /// Rules 5b–5c: signed by the primary the roster names, or by its own recovery key. What a
    /// first roster must be, and what a contact's roster under a new key must be to be shown
    /// (§Contacts' rosters).
    static func checkSelfSigned(_ candidate: ValidRoster, _ signed: SignedDocument) throws(RosterRefusal) {
        let key: SigningPublicKey
        switch signed.signer {
        case candidate.primary.deviceID: key = candidate.primary.key
        case RosterSigning.recoverySigner: key = candidate.recoveryKey
        default: throw .firstRosterSigner(signer: signed.signer, primary: candidate.primary.deviceID)
        }
        guard RosterSigning.signatureIsValid(signed, key: key) else { throw .badSignature(signer: signed.signer) }
    }

    /// Rule 6: a successor of the held roster.
    static func checkSuccessor(_ candidate: ValidRoster, _ signed: SignedDocument, of held: ValidRoster) throws(RosterRefusal) {
        guard held.isNewer(epoch: candidate.epoch, version: candidate.version) else {
            throw .notNewer(epoch: candidate.epoch, version: candidate.version, heldEpoch: held.epoch, heldVersion: held.version)
        }
        let byRecovery: Bool
        let key: SigningPublicKey
        switch signed.signer {
        case held.primary.deviceID: (byRecovery, key) = (false, held.primary.key)
        case RosterSigning.recoverySigner: (byRecovery, key) = (true, held.recoveryKey)
        default: throw .signerNotPrimary(signer: signed.signer, held: held.label, primary: held.primary.deviceID)
        }
        guard RosterSigning.signatureIsValid(signed, key: key) else { throw .badSignature(signer: signed.signer) }
        if byRecovery {
            guard candidate.epoch > held.epoch else { throw .epochNotRaised(epoch: candidate.epoch) }
        } else {
            guard candidate.epoch == held.epoch else { throw .epochChanged(from: held.epoch, to: candidate.epoch) }
            guard candidate.recoveryKey == held.recoveryKey else { throw .recoveryKeyChanged }
        }
    }
}
