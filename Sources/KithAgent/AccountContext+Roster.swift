import KithAPI
import KithCore
import KithCrypto
import KithNet
import KithStore
import KithWire

/// The roster and policies on this device (Protocol/roster.md): the agent keeps a `RosterBook`
/// and a `PolicyBook`, feeds them what the server and siblings send, stores every accepted
/// document before acting on it, and gives sessions, messages and files only to the devices
/// the held roster lists. The decisions are the books'; this file carries them out.
extension AccountContext {
    /// Restores the books from the store for the device that is logged in.
    func loadRosterBooks() {
        approvalWindow.close()
        offeredRoster = nil
        guard let session = try? store.session() else {
            rosterBook = nil
            policyBook = nil
            return
        }
        let holder = RosterBook.Holder(deviceID: session.deviceID, key: identity.publicKey)
        var book = RosterBook(account: session.account, holder: holder)
        if let bytes = try? store.roster() {
            do {
                book = try RosterBook(account: session.account, holder: holder, restoring: try RosterSigning.decodeDocument(bytes))
            } catch {
                logger.error("the stored roster does not restore (\(error)); waiting for the server's")
            }
        }
        var policies = PolicyBook(account: session.account)
        for bytes in (try? store.policies()) ?? [] {
            do { try policies.restore(try RosterSigning.decodeDocument(bytes)) } catch {
                logger.error("a stored policy does not restore: \(error)")
            }
        }
        rosterBook = book
        policyBook = policies
        loadContactBooks()
    }

    /// This device's place in the held roster: "primary", "secondary", or "pending" (not in it).
    var rosterRole: String {
        guard let book = rosterBook, let holder = book.holder,
              book.isApproved(deviceID: holder.deviceID, key: holder.key) else { return "pending" }
        return book.role(of: holder.deviceID)?.description ?? "pending"
    }

    /// The account's other devices that may have sessions, messages and files: the stored
    /// device list filtered by the held roster (id and key). Empty while this device itself is
    /// not in the roster: a pending or revoked device gives nothing and gets nothing.
    func approvedSiblings() -> [AgentStore.Device] {
        guard let book = rosterBook, let holder = book.holder,
              book.isApproved(deviceID: holder.deviceID, key: holder.key) else { return [] }
        return cachedSiblings {
            ((try? storedDevices()) ?? []).filter { device in
                guard device.id != holder.deviceID, let key = SigningPublicKey(rawValue: device.key) else { return false }
                return book.isApproved(deviceID: device.id, key: key)
            }
        }
    }

    func isApprovedSibling(_ deviceID: String) -> Bool { approvedSiblings().contains { $0.id == deviceID } }

    /// Devices of the server's list that the roster does not list with their key.
    func pendingDevices() -> [AgentStore.Device] {
        // No roster held yet (a new device waiting for its first): nobody can be told pending,
        // the primary least of all.
        guard let book = rosterBook, let me = book.holder?.deviceID, book.current != nil else { return [] }
        return ((try? storedDevices()) ?? []).filter { device in
            guard device.id != me else { return false }
            guard let key = SigningPublicKey(rawValue: device.key) else { return true }
            return !book.isApproved(deviceID: device.id, key: key)
        }
    }

    /// What this device's policy allows; nil when none governs it (the primary, or no policy yet).
    func ownPermissions() -> DevicePermissions? {
        guard let book = rosterBook, let me = book.holder?.deviceID else { return nil }
        return policyBook?.permissions(of: me, roster: book)
    }

    // MARK: - Documents in

    /// Feeds a roster to the book; stores and acts on it if accepted.
    func consider(roster document: SignedDocument, from source: String) async {
        guard var book = rosterBook else { return }
        switch book.consider(document) {
        case .unchanged:
            return
        case .refused(let why):
            if case .notForThisDevice = why { offeredRoster = document }
            switch why {
            case .notNewer, .notForThisDevice: logger.debug("roster from \(source) not taken: \(why)")
            default: logger.warning("refused a roster from \(source): \(why)")
            }
        case .accepted(let change):
            do {
                try store.saveRoster(try RosterSigning.encode(change.document))
            } catch {
                logger.error("cannot store \(change.current.label): \(error); it will come again")
                return
            }
            rosterBook = book
            offeredRoster = nil
            await rosterChanged(change, from: source)
        }
    }

    /// Feeds a policy to the book; stores it if accepted.
    func consider(policy document: SignedDocument, from source: String) async {
        guard let book = rosterBook, var policies = policyBook else { return }
        switch policies.consider(document, roster: book) {
        case .unchanged:
            return
        case .refused(let why):
            switch why {
            case .notNewer: logger.debug("policy from \(source) not taken: \(why)")
            default: logger.warning("refused a policy from \(source): \(why)")
            }
        case .accepted(let accepted, _):
            do {
                try store.savePolicy(deviceID: accepted.policy.deviceID, try RosterSigning.encode(accepted.document))
            } catch {
                logger.error("cannot store a policy for \(accepted.policy.deviceID): \(error); it will come again")
                return
            }
            policyBook = policies
            let mine = accepted.policy.deviceID == book.holder?.deviceID
            logger.info("accepted policy \(accepted.policy.version) for \(mine ? "this device" : accepted.policy.deviceID)")
            if mine && !accepted.permissions.keepHistory { forgetViewedTextIfPolicySays() }
            if mine { await transfers?.govern(with: accepted.permissions.receive) }
            publish(AgentEvent(event: .policy, from: accepted.policy.deviceID))
        }
    }

    /// After an accepted roster: sessions and queues of removed devices go, added ones may start,
    /// a device that left the roster stops, a device handed the primary role re-signs.
    private func rosterChanged(_ change: RosterChange, from source: String) async {
        let me = rosterBook?.holder?.deviceID ?? ""
        logger.info("accepted \(change.current.label) from \(source), signed by \(change.document.signer); primary \(change.current.primary.deviceID)")
        let removed = Set(change.removed.map(\.deviceID))
        if !removed.isEmpty, let dropped = try? store.dropOutgoing(to: removed), dropped > 0 {
            logger.info("dropped \(dropped) queued item(s) to \(removed.sorted().joined(separator: ", ")), no longer in the roster")
        }
        for device in removed { await transfers?.cancelAll(with: device, reason: "\(device) left the account's roster") }
        if change.current.member(me) == nil {
            logger.warning("this device is not in \(change.current.label): it was revoked; its siblings refuse it from now on")
        }
        await updateDirectPaths()
        await transfers?.govern(with: ownPermissions()?.receive)
        publish(AgentEvent(event: .roster, state: rosterRole))
        // A hand-over roster is signed by the old primary; the new one signs the same devices
        // itself, so that a device taking its first roster can accept it (§Trust on first use).
        if change.current.primary.deviceID == me, change.document.signer != me, !change.byRecovery {
            do {
                try await publishRoster(change.current.next(members: change.current.members, issuedAtMillis: now()))
            } catch {
                logger.warning("could not re-sign the roster as the new primary: \(error)")
            }
        }
        if rosterBook?.holderIsPrimary == true { await approvePendingIfWindowOpen() }
        // Items that waited for approval (this device's, refused by the server as `notApproved`,
        // or for a sibling this roster approves) may go now.
        Task { await self.flushOutbox() }
    }

    /// After a device list: tell the user of devices waiting for approval, and approve them if
    /// the auto-approval window is open.
    func deviceListChanged(previouslyPending: Set<String>) async {
        await updateDirectPaths()
        let pending = pendingDevices()
        for device in pending where !previouslyPending.contains(device.id) {
            logger.info("\(device.id) is waiting for approval (key \(SigningPublicKey(rawValue: device.key)?.fingerprint.description ?? "?"))")
            publish(AgentEvent(event: .pending, from: device.id))
        }
        if rosterBook?.holderIsPrimary == true { await approvePendingIfWindowOpen() }
    }

    /// One pass at a time (approving re-enters through `rosterChanged`): each round re-reads the
    /// pending list, so a device is approved, and counted against the window, once.
    func approvePendingIfWindowOpen() async {
        guard !autoApproving else { return }
        autoApproving = true
        defer { autoApproving = false }
        var tried: Set<String> = []
        while approvalWindow.isOpen(now: now()), let device = pendingDevices().first(where: { !tried.contains($0.id) }) {
            tried.insert(device.id)
            guard approvalWindow.admit(now: now()) else { return }
            do {
                _ = try await approve(device.id, wait: false)
                logger.info("auto-approved \(device.id)")
            } catch {
                logger.warning("auto-approval of \(device.id) failed: \(error)")
            }
        }
    }

    // MARK: - Documents out

    /// Signs `roster` as the primary, publishes it, and takes it into the book once the server
    /// stored it.
    func publishRoster(_ roster: Roster) async throws {
        guard let me = rosterBook?.holder?.deviceID else { throw AgentError(.notLoggedIn, "this device is not logged in") }
        let document = try RosterSigning.sign(roster, signer: me, with: identity)
        try await publish(.rosterPublish(.init(roster: document)), what: "the roster")
        await consider(roster: document, from: "this device")
    }

    /// Sends a RosterPublish or PolicyPublish and waits for the server's Ack.
    func publish(_ message: Message, what: String) async throws {
        guard let connection, !connection.isClosed else {
            throw AgentError(.serverUnreachable, "the server is not connected; \(what) was not changed")
        }
        let answer = try await connection.request(message, timeout: .seconds(10)).message
        guard answer == .ack(.init()) else {
            throw AgentError(.serverRefused, "the server did not store \(what): \(Self.describe(answer))")
        }
    }

    /// Makes this device the primary of a new account's first roster, with a fresh recovery key,
    /// if the server takes it (it does only for the account's first device and only once).
    /// Returns the recovery key's text, to be shown once; nil if the account has a roster.
    func makeFirstRoster(account: String, deviceID: String, name: String, on connection: any ServerChannel) async -> String? {
        guard let (document, recovery) = firstRoster(account: account, deviceID: deviceID, name: name),
              let answer = try? await connection.request(.rosterPublish(.init(roster: document)), timeout: .seconds(10)).message
        else { return nil }
        guard answer == .ack(.init()) else {
            logger.info("the account has a roster already (\(Self.describe(answer))): this device follows it")
            return nil
        }
        await consider(roster: document, from: "this device")
        logger.info("this device is the primary of \(account); a recovery key was made and shown once")
        return recovery.text
    }

    /// An account's first roster with this device as its primary, signed, and its new recovery key.
    func firstRoster(account: String, deviceID: String, name: String) -> (SignedDocument, RecoveryKey)? {
        let recovery = RecoveryKey.generate()
        let me = RosterMember(deviceID: deviceID, key: identity.publicKey, role: .primary, name: name)
        let roster = Roster.first(account: account, primary: me, recoveryKey: recovery.publicKey, issuedAtMillis: now())
        guard let document = try? RosterSigning.sign(roster, signer: deviceID, with: identity) else { return nil }
        return (document, recovery)
    }

    // MARK: - Passing documents between devices

    /// A roster or policy a sibling passed on (`DocumentShare`), or a secondary's request to
    /// approve a device (`ApproveRequest`), arriving relayed from an approved sibling.
    func receiveFromSibling(_ message: Message, from device: String) async {
        switch message {
        case .documentShare(let share):
            switch share.document.kind {
            case .roster: await consider(roster: share.document, from: device)
            case .policy, .unknown: await consider(policy: share.document, from: device)  // an unknown kind is refused there
            }
        case .approveRequest(let request):
            guard let book = rosterBook, book.holderIsPrimary, policyBook?.mayApprove(device, roster: book) == true else {
                logger.notice("ignored a request from \(device) to approve \(request.deviceID): its policy does not allow it")
                return
            }
            guard let listed = pendingDevices().first(where: { $0.id == request.deviceID }), listed.key == request.key else {
                logger.notice("ignored a request from \(device) to approve \(request.deviceID): not pending with that key")
                return
            }
            do {
                _ = try await approve(request.deviceID, wait: false)
                logger.info("approved \(request.deviceID) as \(device) asked")
            } catch {
                logger.warning("approving \(request.deviceID) for \(device) failed: \(error)")
            }
        default:
            break
        }
    }

    /// Applies keepHistory = false: the text of viewed messages is deleted.
    func forgetViewedTextIfPolicySays() {
        guard ownPermissions()?.keepHistory == false else { return }
        if let count = try? store.forgetViewedText(), count > 0 {
            logger.info("deleted the text of \(count) viewed message(s): this device's policy keeps no history")
        }
    }
}
