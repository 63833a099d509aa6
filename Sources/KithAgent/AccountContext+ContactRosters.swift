import KithAPI
import KithCore
import KithCrypto
import KithStore
import KithWire

/// Contacts' devices are the ones their primary approved (Protocol/roster.md §Contacts' rosters):
/// the agent keeps one `ContactRosterBook` per contact, feeds it the rosters the server sends,
/// stores what it accepts before acting, seals messages only for the devices the held roster
/// lists and takes messages only from them. The server's `ContactDevices` gives presence, never
/// trust. The decisions are the book's; this file carries them out.
extension AccountContext {
    /// Restores every contact's book from the store.
    func loadContactBooks() {
        var books: [String: ContactRosterBook] = [:]
        for stored in (try? store.contactRosters()) ?? [] {
            do {
                books[stored.account] = try ContactRosterBook(
                    account: stored.account, restoring: try RosterSigning.decodeDocument(stored.document), verified: stored.verified,
                    knownPrimaries: stored.primaries.compactMap(SigningPublicKey.init(rawValue:)),
                    pending: stored.pending.flatMap { try? RosterSigning.decodeDocument($0) })
            } catch {
                logger.error("the stored roster of contact \(stored.account) does not restore (\(error)); waiting for the server's")
            }
        }
        contactBooks = books
    }

    /// A contact's roster from the server: decided by the contact's book, stored, then acted on.
    func consider(contactRoster message: ContactRoster) async {
        guard (try? isContact(message.account)) == true else {
            logger.notice("ignored a roster of \(message.account), which is not a contact")
            return
        }
        var book = contactBooks[message.account] ?? ContactRosterBook(account: message.account)
        let decision = book.consider(message.roster)
        switch decision {
        case .unchanged:
            return
        case .refused(let why):
            switch why {
            case .notNewer:
                logger.debug("contact \(message.account): an older roster again (\(why))")
            default:
                refusedFromContacts += 1
                logger.warning("refused a roster of contact \(message.account) from the server: \(why)")
            }
            return
        case .accepted, .keyChanged:
            break
        }
        guard save(book) else { return }
        contactBooks[message.account] = book
        switch decision {
        case .accepted(let change):
            logger.info("contact \(message.account): \(change.previous == nil ? "pinned" : "took") \(change.current.label), primary \(change.current.primary.deviceID)\(change.byRecovery ? " (by recovery)" : "")")
            acted(on: change, of: message.account)
        case .keyChanged(let roster):
            refusedFromContacts += 1
            logger.warning("""
                contact \(message.account): a roster signed by a key this device has never seen for them \
                (\(roster.label), primary \(roster.primary.deviceID) \(roster.primary.key.fingerprint)); messages to \
                \(message.account) stop until you compare the safety code (`kith contacts verify \(message.account)`) and \
                run `kith contacts trust \(message.account)`\(book.verified ? ". You had VERIFIED this contact: this may be an attack" : "")
                """)
            publish(AgentEvent(event: .contactKeys, contact: message.account, state: book.trust.description))
        case .unchanged, .refused:
            break
        }
    }

    /// After a contact's roster changed: queued copies for devices it no longer lists are dropped,
    /// and copies that waited for the roster may go.
    private func acted(on change: RosterChange, of account: String) {
        let removed = Set(change.removed.map(\.deviceID)).subtracting(change.current.members.map(\.deviceID))
        if let dropped = try? store.dropOutgoing(to: removed), dropped > 0 {
            logger.notice("dropped \(dropped) queued message copies to \(removed.sorted().joined(separator: ", ")): no longer in \(account)'s roster")
        }
        publish(AgentEvent(event: .contactKeys, contact: account, state: contactBooks[account]?.trust.description))
        Task { await self.flushOutbox() }
    }

    /// Stores a contact's book; false (logged) if the store failed: the book is then not taken.
    private func save(_ book: ContactRosterBook) -> Bool {
        guard let document = book.document else { return false }
        do {
            try store.saveContactRoster(.init(
                account: book.account, document: try RosterSigning.encode(document), verified: book.verified,
                primaries: book.knownPrimaries.map(\.rawValue), pending: try book.pendingChange.map(RosterSigning.encode)))
            return true
        } catch {
            logger.error("cannot store the roster of contact \(book.account): \(error)")
            return false
        }
    }

    // MARK: - Who may have messages

    /// The contact's devices a message may be sealed for: the held roster's members (id and key),
    /// whatever the server lists. Throws while no roster is held or a key change waits.
    func sealableDevices(of account: String) throws -> [RosterMember] {
        guard let book = contactBooks[account], let roster = book.current else {
            throw AgentError(.notPermitted, "\(account)'s roster has not reached this device yet, so no device of theirs is known to be approved by their primary; try again in a moment")
        }
        guard book.maySend else { throw AgentError(.notPermitted, Self.keyChangedWarning(account, wasVerified: book.verified)) }
        return roster.members
    }

    /// The key a contact's device seals and opens with: from the contact's held roster only, and
    /// only while the account is an accepted contact.
    func approvedContactKey(_ deviceID: String, of contact: String? = nil) -> SigningPublicKey? {
        let account = contact ?? String(ReadState.account(ofDevice: deviceID))
        guard (try? isContact(account)) == true else { return nil }
        return contactBooks[account]?.member(deviceID)?.key
    }

    static func keyChangedWarning(_ account: String, wasVerified: Bool) -> String {
        (wasVerified ? "WARNING: the keys of \(account), whom you VERIFIED, changed. " : "\(account)'s keys changed. ")
            + "Messages to \(account) are held until you compare the safety code with them (`kith contacts verify \(account)`) and accept the new keys (`kith contacts trust \(account)`)"
    }

    // MARK: - The local API

    /// `contactVerify`: the safety code, and with `confirm` the contact marked verified.
    func contactVerify(_ params: ContactVerifyRequest) throws -> SafetyCodeResult {
        let (account, code) = try safetyCode(of: params.contact)
        var book = contactBooks[account]!
        var note: String?
        if params.confirm == true {
            guard book.markVerified() else { throw AgentError(.notPermitted, Self.keyChangedWarning(account, wasVerified: book.verified)) }
            guard save(book) else { throw AgentError(.internalError, "could not store the verification") }
            contactBooks[account] = book
            logger.info("contact \(account) verified by its safety code")
            publish(AgentEvent(event: .contactKeys, contact: account, state: book.trust.description))
            note = "\(account) is verified: if their keys ever change, `kith contacts` and `kith send` will say so loudly"
        } else if case .keyChanged(let wasVerified) = book.trust {
            note = Self.keyChangedWarning(account, wasVerified: wasVerified)
        }
        return SafetyCodeResult(contact: account, code: code.description, trust: book.trust.description, verified: book.verified, note: note)
    }

    /// `contactTrust`: accepts a contact's new keys. A contact that was verified needs `confirm`.
    func contactTrust(_ params: ContactTrustRequest) throws -> SafetyCodeResult {
        let account = params.contact
        guard !account.isEmpty else { throw AgentError(.invalidRequest, "name the contact's account") }
        guard var book = contactBooks[account] else {
            throw AgentError(.unknownDevice, "no roster of \(account) is held here: nothing to trust")
        }
        guard case .keyChanged(let wasVerified) = book.trust else {
            throw AgentError(.invalidRequest, "\(account)'s keys have not changed (\(book.trust)): nothing to trust")
        }
        if wasVerified && params.confirm != true {
            throw AgentError(.notPermitted, "you had verified \(account); accepting a new key needs --yes, after comparing the new safety code with them in person")
        }
        guard let change = book.trustNewKey() else { throw AgentError(.internalError, "no key change to trust") }
        guard save(book) else { throw AgentError(.internalError, "could not store the new keys of \(account)") }
        contactBooks[account] = book
        // What was written meanwhile goes to the devices of the keys just accepted.
        if let added = try? store.readdressWaitingMessages(account: account, to: change.current.members.map(\.deviceID)), added > 0 {
            logger.notice("\(added) held message copies to \(account) re-addressed to the devices of the accepted roster")
        }
        logger.warning("contact \(account): the user accepted \(change.current.label) with primary \(change.current.primary.deviceID) \(change.current.primary.key.fingerprint)")
        acted(on: change, of: account)
        let (_, code) = try safetyCode(of: account)
        return SafetyCodeResult(contact: account, code: code.description, trust: book.trust.description, verified: false,
                                note: "\(account)'s new keys are trusted (unverified); held messages go now. Compare the safety code to verify them")
    }

    /// The safety code of this account and the contact's (Protocol/identity.md §Safety code).
    private func safetyCode(of account: String) throws -> (String, SafetyCode) {
        guard let session = try store.session() else { throw AgentError(.notLoggedIn, "this device is not logged in; run `kith login`") }
        guard !account.isEmpty else { throw AgentError(.invalidRequest, "name the contact's account") }
        guard try isContact(account) else { throw AgentError(.unknownDevice, "\(account) is not a contact; see `kith contacts`") }
        guard let own = rosterBook?.current else {
            throw AgentError(.notPermitted, "this device holds no roster of \(session.account) yet, so there is no code to compare")
        }
        guard let book = contactBooks[account] else {
            throw AgentError(.notPermitted, "\(account)'s roster has not reached this device yet, so there is no code to compare")
        }
        // While a key change waits, the code shown is the new key's: the one to compare before trusting it.
        guard let theirs = book.pendingRoster ?? book.current else { throw AgentError(.internalError, "no roster") }
        return (account, SafetyCode(.init(account: session.account, recoveryKey: own.recoveryKey),
                                    .init(account: account, recoveryKey: theirs.recoveryKey)))
    }
}
