import KithWire

// MARK: - Between devices of one account (spec §Relay, §Transit)

extension ServerRules {
    /// `RelaySend { to }` (spec §Relay): only to a device of the caller's own account, itself
    /// included. A relayed device message is for a sibling, whose key the account's roster
    /// vouches for; a person reaches another account only with `ChatSend`, which checks the
    /// contact (`chat(from:to:targetAccount:contacts:)`).
    ///
    /// - Parameters:
    ///   - deviceID: `RelaySend.to`, as the request names it.
    ///   - targetAccount: the account of that device, or nil when the server has no such device
    ///     (never registered, or revoked).
    ///   - linkedInto: the target is a device of the caller's account's master that the account's
    ///     roster lists as linked (Protocol/links.md): a sibling in this account too.
    public static func relay(from caller: Caller, to deviceID: String, targetAccount: String?, linkedInto: Bool = false) -> Decision {
        guard let targetAccount else { return .refused(.notFound, reason: "there is no device \(deviceID)") }
        guard targetAccount == caller.account || linkedInto else {
            return .refused(.forbidden, reason: "\(deviceID) is not a device of your account")
        }
        return .allowed
    }

    /// `TransitRequest { to }` (spec §Transit, step 1): to another device of the caller's
    /// account. A device of another account, an unknown one and the caller itself all get the
    /// same `notFound`, so the request does not tell a stranger's device ids from made-up ones.
    /// Whether the target is online is decided when the server tries to send it the
    /// `TransitOffer`, which the caller of this rule does after it.
    ///
    /// - Parameters:
    ///   - deviceID: `TransitRequest.to`.
    ///   - targetAccount: the account of that device, or nil when the server has no such device.
    public static func transit(from caller: Caller, to deviceID: String, targetAccount: String?) -> Decision {
        guard targetAccount == caller.account, deviceID != caller.deviceID else {
            return .refused(.notFound, reason: "\(deviceID) is not another device of your account")
        }
        return .allowed
    }
}

// MARK: - Who may have payloads relayed (Protocol/roster.md §Approval)

extension ServerRules {
    /// `RelaySend` and `ChatSend` from a device its account's stored roster does not approve
    /// (a pending device) are refused with `notApproved`, not acknowledged: every receiver would
    /// drop the payload (they accept only approved senders), so an acknowledgement would lose
    /// it. The sender keeps it and sends it again once approved. The receivers still check for
    /// themselves; this only stops the server from taking what nobody will accept. An account
    /// with no stored roster yet has nothing to check against: its devices are not refused here.
    ///
    /// - Parameters:
    ///   - roster: the caller's account's stored roster, nil when it has none.
    ///   - actingForLinkedAccount: the caller is a master's device acting for a linked account,
    ///     which `actFor` has approved already (its linked role in that account's roster).
    public static func relayedSender(_ caller: Caller, roster: ValidRoster?, actingForLinkedAccount: Bool = false) -> Decision {
        guard let roster, !actingForLinkedAccount else { return .allowed }
        guard let key = caller.key, roster.contains(deviceID: caller.deviceID, key: key) else {
            return .refused(.notApproved, reason: "\(caller.deviceID) is not approved by the primary of \(caller.account) yet; "
                            + "what it sends waits until it is (`kith devices --pending` on the primary)")
        }
        return .allowed
    }
}
