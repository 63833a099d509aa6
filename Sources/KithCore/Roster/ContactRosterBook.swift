import KithCrypto
import KithWire

/// How far a device trusts a contact's account keys (Protocol/roster.md §Contacts' rosters).
public enum ContactTrust: Sendable, Equatable, CustomStringConvertible {
    /// No roster of the contact has arrived: nothing is sent to it and nothing taken from it.
    case noRoster
    /// Pinned on first use; the safety code has not been compared.
    case unverified
    /// The person compared the safety code and confirmed it.
    case verified
    /// A roster signed by a key the held chain does not prove arrived: messages to the contact
    /// stop until the user accepts the new key. `wasVerified`: the old key had been verified.
    case keyChanged(wasVerified: Bool)

    /// The name the local API and the CLI use.
    public var description: String {
        switch self {
        case .noRoster: "no roster"
        case .unverified: "unverified"
        case .verified: "verified"
        case .keyChanged: "key changed"
        }
    }
}

/// What a device does with a contact's roster.
public enum ContactRosterDecision: Sendable, Equatable {
    /// Pinned on first use, or a successor the held chain proves (an approval, a revocation, a
    /// hand-over, a recovery): store it, then act on `removed`.
    case accepted(RosterChange)
    /// The held roster again, or the key change already waiting for the user.
    case unchanged
    /// Internally consistent, but signed by a primary this chain never had: held for the user
    /// (`trustNewKey`); the contact is blocked meanwhile.
    case keyChanged(ValidRoster)
    /// Forged, stale, malformed, or for another account: dropped, logged and counted.
    case refused(RosterRefusal)
}

/// The roster one device holds for one contact's account, and the rules by which it takes a new
/// one: trust on first use, then only successors the held roster proves (roster.md rules 6a–6e,
/// the same as for the device's own account), with a key change surfaced to the user instead of
/// taken silently. Pure: the agent restores it from its store, feeds it every `ContactRoster` the
/// server sends, stores what it accepts before acting, and seals messages only for — and takes
/// messages only from — the devices `isApproved` names.
public struct ContactRosterBook: Sendable {
    /// The contact's account.
    public let account: String
    public private(set) var current: ValidRoster?
    public private(set) var document: SignedDocument?
    /// The person compared the safety code for the held chain.
    public private(set) var verified = false
    /// Every primary key the held chain has had: a roster signed by one of them that is not a
    /// successor is a replay (refused quietly), not a key change.
    public private(set) var knownPrimaries: [SigningPublicKey] = []
    /// A roster with an unproven key, waiting for the user.
    public private(set) var pendingChange: SignedDocument?
    public private(set) var pendingRoster: ValidRoster?

    public init(account: String) {
        self.account = account
    }

    /// The book as the device stored it. The held roster's structure and account are checked
    /// again, not the chain that led to it; a stored pending change that no longer checks is dropped.
    public init(account: String, restoring document: SignedDocument, verified: Bool, knownPrimaries: [SigningPublicKey],
                pending: SignedDocument?) throws(RosterRefusal) {
        self.init(account: account)
        let roster = try RosterBook.check(document, account: account)
        current = roster
        self.document = document
        self.verified = verified
        self.knownPrimaries = knownPrimaries.isEmpty ? [roster.primary.key] : knownPrimaries
        if let pending, let candidate = try? Self.selfSigned(pending, account: account) {
            pendingChange = pending
            pendingRoster = candidate
        }
    }

    // MARK: Queries

    public var trust: ContactTrust {
        if current == nil { return .noRoster }
        if pendingChange != nil { return .keyChanged(wasVerified: verified) }
        return verified ? .verified : .unverified
    }

    /// Whether messages to the contact may go: a roster is held and no key change waits.
    public var maySend: Bool { current != nil && pendingChange == nil }

    /// Whether `deviceID` with `key` is one of the contact's approved devices in the held roster.
    /// A key change waiting for the user does not change this: the held chain's devices are
    /// still the contact's as far as this device can prove.
    public func isApproved(deviceID: String, key: SigningPublicKey) -> Bool {
        current?.contains(deviceID: deviceID, key: key) ?? false
    }

    public func member(_ deviceID: String) -> RosterMember? { current?.member(deviceID) }

    // MARK: Decisions

    /// Decides on a roster the server sent for this contact; on `.accepted` the book holds it.
    public mutating func consider(_ signed: SignedDocument) -> ContactRosterDecision {
        let candidate: ValidRoster
        do { candidate = try RosterBook.check(signed, account: account) } catch { return .refused(error) }
        guard let held = current, let heldDocument = document else {
            do {
                _ = try Self.selfSigned(signed, account: account)
            } catch {
                return .refused(error)
            }
            return .accepted(take(candidate, signed, previous: nil))
        }
        if signed.body == heldDocument.body || signed.body == pendingChange?.body { return .unchanged }
        let successorRefusal: RosterRefusal
        do {
            try RosterBook.checkSuccessor(candidate, signed, of: held)
            // The chain continues: whatever key change was shown meanwhile is superseded.
            pendingChange = nil
            pendingRoster = nil
            return .accepted(take(candidate, signed, previous: held))
        } catch {
            successorRefusal = error
        }
        // Not a successor. A consistent roster under a primary this chain never had is a key
        // change for the user to judge; anything else (a replay, a former primary, a forgery) is refused.
        guard (try? Self.selfSigned(signed, account: account)) != nil, !knownPrimaries.contains(candidate.primary.key) else {
            return .refused(successorRefusal)
        }
        pendingChange = signed
        pendingRoster = candidate
        return .keyChanged(candidate)
    }

    /// The user accepted the waiting key change (`kith contacts trust`): it becomes the held
    /// roster, unverified. Nil when none waits.
    public mutating func trustNewKey() -> RosterChange? {
        guard let signed = pendingChange, let candidate = pendingRoster else { return nil }
        let previous = current
        pendingChange = nil
        pendingRoster = nil
        verified = false
        return take(candidate, signed, previous: previous)
    }

    /// The person confirmed the safety code. False when there is nothing to verify (no roster,
    /// or a key change waiting: that one is accepted with `trustNewKey` first).
    public mutating func markVerified() -> Bool {
        guard current != nil, pendingChange == nil else { return false }
        verified = true
        return true
    }

    private mutating func take(_ candidate: ValidRoster, _ signed: SignedDocument, previous: ValidRoster?) -> RosterChange {
        current = candidate
        document = signed
        if !knownPrimaries.contains(candidate.primary.key) { knownPrimaries.append(candidate.primary.key) }
        return RosterChange(previous: previous, current: candidate, document: signed)
    }

    /// Rules 1–4 and 5b–5c: a roster of `account` signed by the primary it names or by its own
    /// recovery key — what a first roster must be, and what a key change must be to be shown.
    static func selfSigned(_ signed: SignedDocument, account: String) throws(RosterRefusal) -> ValidRoster {
        let candidate = try RosterBook.check(signed, account: account)
        try RosterBook.checkSelfSigned(candidate, signed)
        return candidate
    }
}
