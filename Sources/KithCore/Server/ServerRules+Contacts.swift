import KithWire

// MARK: - Between people (spec §Contacts, §Messages between people)

extension ServerRules {
    /// `ContactRequest { account }` (spec §Contacts), as far as it is decided before the store
    /// is asked: not the caller's own account (`malformed`), and not past the caller's limit of
    /// contacts and open requests (`forbidden`). Whether `account` exists (`notFound`) and the
    /// other account's limit are decided by the store in the same transaction that records the
    /// request, so two requests at once cannot both slip under the limit.
    ///
    /// `ContactAccept` and `ContactRemove` have no rule of their own beyond a logged-in session
    /// (`admission(of:loggedIn:)`): whether there is a request to accept is the store's answer.
    ///
    /// - Parameters:
    ///   - account: `ContactRequest.account`.
    ///   - records: how many records the caller's account has: contacts and open requests,
    ///     either way.
    ///   - limit: the most records an account may have (the server store's
    ///     `ContactRecord.maxPerAccount`: what one `ContactList` carries).
    public static func contactRequest(from caller: Caller, to account: String, records: Int, limit: Int) -> Decision {
        guard account != caller.account else { return .refused(.malformed, reason: "that is your own account") }
        guard records < limit else {
            return .refused(.forbidden, reason: "an account has at most \(limit) contacts and requests")
        }
        return .allowed
    }

    /// `ChatSend { to }` (spec §Messages between people, step 3): to a device of an accepted
    /// contact's account. An open request either way is not enough, and the caller's own
    /// account is no contact of its own: its devices exchange notes with `RelaySend`.
    ///
    /// - Parameters:
    ///   - deviceID: `ChatSend.to`.
    ///   - targetAccount: the account of that device, or nil when the server has no such device.
    ///   - contacts: the caller's accepted contacts (account names), without open requests.
    public static func chat(from caller: Caller, to deviceID: String, targetAccount: String?,
                            contacts: Set<String>) -> Decision {
        guard let targetAccount else { return .refused(.notFound, reason: "there is no device \(deviceID)") }
        guard targetAccount != caller.account, contacts.contains(targetAccount) else {
            return .refused(.forbidden, reason: "\(targetAccount) is not your contact")
        }
        return .allowed
    }
}
