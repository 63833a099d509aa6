import KithAPI
import Foundation
import KithCore
import KithCrypto
import KithNet
import KithStore
import KithWire

/// The local API's approval, revocation, hand-over, recovery and policy requests: each checks what
/// this device may do, signs the next document, and publishes it (AccountContext+Roster).
extension AccountContext {
    func rosterInfo(note: String? = nil, recoveryKey: String? = nil) throws -> RosterResult {
        guard let session = try store.session() else {
            throw AgentError(.notLoggedIn, "this device is not logged in; run `kith login`")
        }
        let current = rosterBook?.current
        let window = approvalWindow.isOpen(now: now()) ? approvalWindow : nil
        return RosterResult(
            account: session.account, role: rosterRole, deviceID: session.deviceID,
            fingerprint: identity.publicKey.fingerprint.description, roster: current?.label,
            primary: current?.primary.deviceID, primaryFingerprint: current?.primary.key.fingerprint.description,
            members: (current?.members ?? []).map {
                RosterMemberEntry(id: $0.deviceID, name: $0.name, role: $0.role.description, fingerprint: $0.key.fingerprint.description)
            },
            pending: pendingDevices().map {
                PendingEntry(id: $0.id, name: $0.name, fingerprint: SigningPublicKey(rawValue: $0.key)?.fingerprint.description ?? "?",
                             online: $0.online)
            },
            autoApproveUntilMillis: window?.closesAtMillis, autoApproveRemaining: window?.remaining,
            recoveryKey: recoveryKey, note: note)
    }

    /// The held roster, with this device as its primary; else why not.
    private func rosterAsPrimary(_ what: String) throws -> ValidRoster {
        guard let book = rosterBook, let current = book.current else {
            throw AgentError(.notPermitted, "this device holds no roster yet; \(what) is done on the account's primary")
        }
        guard book.holderIsPrimary else {
            throw AgentError(.notPermitted, "\(what) is done on the primary, \(current.primary.deviceID); this device is \(rosterRole)")
        }
        return current
    }

    /// Approves a pending device (on the primary), or asks the primary to (on a secondary whose
    /// policy allows it). `wait`: give the device up to 5 s to appear in the device list.
    func approve(_ deviceID: String, wait: Bool = true) async throws -> RosterResult {
        guard let book = rosterBook, book.current != nil else {
            throw AgentError(.notPermitted, "this device holds no roster yet; approve on the account's primary")
        }
        if !book.holderIsPrimary { return try await askPrimaryToApprove(deviceID) }
        let current = try rosterAsPrimary("approving")
        if current.member(deviceID) != nil, let listed = try storedDevices().first(where: { $0.id == deviceID }),
           SigningPublicKey(rawValue: listed.key).map({ current.contains(deviceID: deviceID, key: $0) }) == true {
            return try rosterInfo(note: "\(deviceID) is approved already")
        }
        let deadline = now() + (wait ? 5000 : 0)
        var device = pendingDevices().first { $0.id == deviceID }
        while device == nil && now() < deadline {
            try await Task.sleep(for: .milliseconds(100))
            device = pendingDevices().first { $0.id == deviceID }
        }
        guard let device, let key = SigningPublicKey(rawValue: device.key) else {
            throw AgentError(.unknownDevice, "\(deviceID) is not waiting for approval; see `kith devices --pending`")
        }
        try await publishRoster(current.approving(deviceID: deviceID, key: key, name: device.name, issuedAtMillis: now()))
        logger.info("approved \(deviceID) (key \(key.fingerprint))")
        return try rosterInfo(note: "approved \(deviceID)")
    }

    /// A secondary with `approve=yes` sends ApproveRequest, relayed, to the primary.
    private func askPrimaryToApprove(_ deviceID: String) async throws -> RosterResult {
        guard let book = rosterBook, let current = book.current, let me = book.holder?.deviceID,
              policyBook?.mayApprove(me, roster: book) == true else {
            throw AgentError(.notPermitted, "this device may not approve devices; its primary's policy says so")
        }
        guard let device = pendingDevices().first(where: { $0.id == deviceID }) else {
            throw AgentError(.unknownDevice, "\(deviceID) is not waiting for approval; see `kith devices --pending`")
        }
        try await sendToSibling(.approveRequest(.init(deviceID: deviceID, key: device.key)), to: current.primary)
        return try rosterInfo(note: "asked \(current.primary.deviceID) to approve \(deviceID)")
    }

    /// Seals `message` for a device of the roster and relays it through the server.
    private func sendToSibling(_ message: Message, to member: RosterMember) async throws {
        guard let connection, !connection.isClosed, let me = rosterBook?.holder?.deviceID,
              let key = member.key.noisePublicKey else {
            throw AgentError(.serverUnreachable, "the server is not connected")
        }
        let payload = try RelayedMessage.seal(Envelope(message), from: me, to: member.deviceID,
                                              senderKeys: identity.noiseKeyPair, receiverKey: key)
        let answer = try await connection.request(.relaySend(.init(to: member.deviceID, payload: payload))).message
        guard answer == .ack(.init()) else {
            throw AgentError(.serverRefused, "the server did not relay it: \(Self.describe(answer))")
        }
    }

    /// `kith approve --auto 10m` / `off`.
    func autoApprove(_ duration: String) async throws -> RosterResult {
        _ = try rosterAsPrimary("auto-approval")
        if duration == "off" {
            approvalWindow.close()
            return try rosterInfo(note: "auto-approval is off")
        }
        guard let millis = ApprovalWindow.parseDuration(duration) else {
            throw AgentError(.invalidRequest, "a duration is like 90s, 10m or 1h (at most 1h), or off")
        }
        do { try approvalWindow.open(now: now(), durationMillis: millis) } catch {
            throw AgentError(.invalidRequest, "\(error)")
        }
        logger.warning("auto-approval open for \(duration): new devices are approved without a fingerprint check")
        await approvePendingIfWindowOpen()
        return try rosterInfo(note: "auto-approval is open for \(duration)")
    }

    /// Refuses a pending device: the server cuts it off; the roster does not change.
    func deny(_ deviceID: String) async throws -> RosterResult {
        let current = try rosterAsPrimary("denying")
        guard current.member(deviceID) == nil else {
            throw AgentError(.invalidRequest, "\(deviceID) is approved; use `kith revoke \(deviceID)`")
        }
        try await publish(.revoke(.init(deviceID: deviceID)), what: "the denial")
        logger.info("denied \(deviceID)")
        return try rosterInfo(note: "denied \(deviceID)")
    }

    /// Removes a device from the roster, then has the server cut it off.
    func revoke(_ deviceID: String) async throws -> RosterResult {
        let current = try rosterAsPrimary("revoking")
        guard deviceID != current.primary.deviceID else {
            throw AgentError(.invalidRequest, "the primary cannot revoke itself; hand over first (`kith primary hand-over`)")
        }
        if current.member(deviceID) != nil {
            try await publishRoster(current.removing(deviceID, issuedAtMillis: now()))
        }
        do {
            try await publish(.revoke(.init(deviceID: deviceID)), what: "the revocation")
        } catch let error as AgentError where current.member(deviceID) != nil {
            // The roster without it is out: its siblings refuse it whatever the server does.
            logger.warning("\(deviceID) left the roster, but the server did not cut it off: \(error)")
            return try rosterInfo(note: "\(deviceID) left the roster; the server did not revoke it: \(error.message)")
        }
        logger.info("revoked \(deviceID)")
        return try rosterInfo(note: "revoked \(deviceID)")
    }

    /// Makes an approved secondary the primary; this device becomes a secondary.
    func handOver(to deviceID: String) async throws -> RosterResult {
        let current = try rosterAsPrimary("handing over")
        guard let member = current.member(deviceID), member.role.isGoverned else {
            throw AgentError(.unknownDevice, "\(deviceID) is not a secondary in \(current.label)")
        }
        try await publishRoster(current.handingOver(to: deviceID, issuedAtMillis: now()))
        logger.info("handed the primary role to \(deviceID)")
        return try rosterInfo(note: "\(deviceID) is the primary now")
    }

    /// Signs, with the recovery key, the next epoch's roster with this device as its primary and
    /// a new recovery key; returns the new key's text, shown once.
    func recover(_ text: String) async throws -> RosterResult {
        guard let session = try store.session() else { throw AgentError(.notLoggedIn, "this device is not logged in") }
        let recovery: RecoveryKey
        do { recovery = try RecoveryKey(parsing: text) } catch {
            throw AgentError(.invalidRequest, "that is not a recovery key: \(error)")
        }
        guard let base = try rosterBook?.current ?? offeredRoster.map({ try ValidRoster(RosterSigning.roster(in: $0)) }) else {
            throw AgentError(.notPermitted, "no roster of \(session.account) is known here yet; wait for the server's")
        }
        guard base.recoveryKey == recovery.publicKey else {
            throw AgentError(.notPermitted, "that recovery key is not the one of \(base.label) of \(session.account)")
        }
        let listed = try storedDevices().first { $0.id == session.deviceID }?.name
        let name = base.member(session.deviceID)?.name ?? listed ?? session.deviceID
        let me = RosterMember(deviceID: session.deviceID, key: identity.publicKey, role: .primary, name: name)
        let next = RecoveryKey.generate()
        let roster = try base.recovering(newPrimary: me, newRecoveryKey: next.publicKey, issuedAtMillis: now())
        let document = try RosterSigning.sign(roster, signer: RosterSigning.recoverySigner, with: recovery)
        try await publish(.rosterPublish(.init(roster: document)), what: "the recovery roster")
        await consider(roster: document, from: "this device")
        logger.warning("recovered \(session.account): this device is the primary; the old primary \(base.primary.deviceID) is out")
        return try rosterInfo(note: "this device is the primary of \(session.account); \(base.primary.deviceID) is out", recoveryKey: next.text)
    }

    // MARK: - Policies

    func policyShow(_ deviceID: String?) throws -> PolicyResult {
        guard let book = rosterBook, let current = book.current, let policies = policyBook else {
            throw AgentError(.notPermitted, "this device holds no roster yet")
        }
        let me = book.holder?.deviceID
        let devices: [String]
        if let deviceID {
            guard current.member(deviceID) != nil else { throw AgentError(.unknownDevice, "\(deviceID) is not in \(current.label)") }
            devices = [deviceID]
        } else {
            devices = book.holderIsPrimary ? current.members.filter(\.role.isGoverned).map(\.deviceID) : [me].compactMap { $0 }
        }
        return PolicyResult(policies: devices.map { id in
            let held = policies.policies[id]
            return PolicyEntry(device: id, version: held?.policy.version,
                               settings: PolicySettings.describe(held?.permissions ?? DevicePermissions()))
        })
    }

    func policySet(_ deviceID: String, _ settings: [String]) async throws -> PolicyResult {
        let current = try rosterAsPrimary("setting a policy")
        guard let member = current.member(deviceID), member.role.isGoverned else {
            throw AgentError(.unknownDevice, "\(deviceID) is not a secondary in \(current.label)")
        }
        guard let policies = policyBook, let me = rosterBook?.holder?.deviceID else { throw AgentError(.internalError, "no policy book") }
        let permissions: DevicePermissions
        do {
            permissions = try PolicySettings.apply(settings, to: policies.policies[deviceID]?.permissions ?? DevicePermissions())
        } catch {
            throw AgentError(.invalidRequest, "\(error)")
        }
        let policy = permissions.policy(account: current.account, deviceID: deviceID, epoch: current.epoch,
                                        version: policies.nextVersion(for: deviceID, epoch: current.epoch), issuedAtMillis: now())
        let document = try RosterSigning.sign(policy, signer: me, with: identity)
        try await publish(.policyPublish(.init(policy: document)), what: "the policy")
        await consider(policy: document, from: "this device")
        logger.info("set policy \(policy.version) for \(deviceID): \(settings.joined(separator: " "))")
        return try policyShow(deviceID)
    }
}
