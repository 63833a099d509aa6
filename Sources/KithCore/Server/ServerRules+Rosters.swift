import KithWire

// MARK: - The account's roster at the server (Protocol/roster.md §The first roster, §Revoke)

extension ServerRules {
    /// Whether the server stores `roster` as the account's first (roster.md §The first roster):
    /// only from the account's first registered device, naming itself — id and key — as primary.
    /// Asked only when the server holds no roster for the account, after the roster passed the
    /// devices' own rules as an observer (`RosterBook.consider`). Every device that logs in
    /// holding no roster makes one naming itself primary; without this rule a second device
    /// whose publish reached the server before the first device's would become the account's
    /// primary, and every later device would take that roster on trust (roster.md §Trust on
    /// first use).
    ///
    /// - Parameter firstDeviceID: the account's first registered device, from the store; nil
    ///   when the store does not know one.
    ///   - master: the account's master, if it is linked under one: an account linked before it had
    ///     a device of its own takes a device of its master as its first device
    ///     (Protocol/links.md §The linked role).
    public static func firstRoster(_ roster: ValidRoster, publishedBy caller: Caller, firstDeviceID: String?,
                                   master: String? = nil) -> Decision {
        let namesItself = roster.primary.deviceID == caller.deviceID && roster.primary.key == caller.key
        let isFirstDevice = firstDeviceID == caller.deviceID
            || (firstDeviceID == nil && master.map { ReadState.account(ofDevice: caller.deviceID) == $0 } == true)
        guard isFirstDevice, namesItself else {
            return .refused(.forbidden, reason: "only the account's first device may publish its first roster, naming itself primary")
        }
        return .allowed
    }

    /// `Revoke { deviceID }` (roster.md §Revoke): of a device of the caller's account, by the
    /// primary — id and key — of the roster the server stores, and only once that roster no
    /// longer lists the device. So a secondary cannot revoke anyone, and the server never cuts
    /// off a device its siblings still approve: the primary publishes the roster without it
    /// first. The same request denies a pending device, which no roster lists.
    ///
    /// - Parameters:
    ///   - deviceID: `Revoke.deviceID`.
    ///   - targetAccount: the account of that device, or nil when the server has no such device
    ///     (never registered, or revoked already).
    ///   - roster: the roster the server stores for the caller's account, nil before the first.
    public static func revoke(_ deviceID: String, targetAccount: String?, by caller: Caller,
                              roster: ValidRoster?) -> Decision {
        guard targetAccount == caller.account else {
            return .refused(.notFound, reason: "\(deviceID) is not a device of your account")
        }
        guard let roster, roster.primary.deviceID == caller.deviceID, roster.primary.key == caller.key else {
            return .refused(.forbidden, reason: "only the primary of the account's roster may revoke a device")
        }
        guard roster.member(deviceID) == nil else {
            return .refused(.forbidden, reason: "\(deviceID) is still in \(roster.label): publish a roster without it first")
        }
        return .allowed
    }
}
