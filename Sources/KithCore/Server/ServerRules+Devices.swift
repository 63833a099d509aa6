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
