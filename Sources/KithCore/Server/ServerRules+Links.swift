import KithWire

// MARK: - Linked accounts (Protocol/links.md §Links, §Refusals)

extension ServerRules {
    /// The most accounts one master may link.
    public static let maxLinkedAccounts = 256

    /// What the server's store says about the two accounts of a link request.
    public struct LinkFacts: Sendable, Equatable {
        /// The caller's account's master, if it is linked under one.
        public var callerMaster: String?
        /// How many accounts are linked under the caller's account.
        public var callerLinkedCount: Int
        /// The target's master, if it is linked under one already.
        public var targetMaster: String?
        /// Whether accounts are linked under the target.
        public var targetHasLinked: Bool

        public init(callerMaster: String? = nil, callerLinkedCount: Int = 0, targetMaster: String? = nil,
                    targetHasLinked: Bool = false) {
            self.callerMaster = callerMaster
            self.callerLinkedCount = callerLinkedCount
            self.targetMaster = targetMaster
            self.targetHasLinked = targetHasLinked
        }
    }

    /// `AccountLink { account }` from a device of `master`, once `account`'s password checked
    /// out (§Links, rules 4–7): no link to itself, none twice, no chains (so no cycles), at most
    /// `maxLinkedAccounts`. The password comes first, so these never tell a stranger anything
    /// about an account whose password it does not have.
    public static func link(_ account: String, under master: String, facts: LinkFacts) -> Decision {
        if account == master { return .refused(.forbidden, reason: "an account cannot be linked to itself") }
        if facts.targetMaster == master { return .refused(.conflict, reason: "\(account) is linked to \(master) already") }
        if facts.targetMaster != nil { return .refused(.conflict, reason: "\(account) is linked under another account") }
        if facts.callerMaster != nil {
            return .refused(.forbidden, reason: "\(master) is linked under another account: only a master links accounts")
        }
        if facts.targetHasLinked { return .refused(.forbidden, reason: "\(account) has linked accounts of its own") }
        if facts.callerLinkedCount >= maxLinkedAccounts {
            return .refused(.forbidden, reason: "\(master) has \(maxLinkedAccounts) linked accounts, the most there may be")
        }
        return .allowed
    }

    /// `AccountUnlink { account }` (§Links): by the primary of the caller's account's stored
    /// roster, of a link between the caller's account and `account` in either direction.
    ///   - link: the stored link between the two accounts, if any.
    ///   - linkedRoster: the linked account's stored roster. While its primary is a device of the
    ///     master, the link stays: unlinked, the account would have no primary of its own.
    public static func unlink(_ account: String, by caller: Caller, roster: ValidRoster?,
                              link: (master: String, linked: String)?, linkedRoster: ValidRoster? = nil) -> Decision {
        guard let roster, roster.primary.deviceID == caller.deviceID, roster.primary.key == caller.key else {
            return .refused(.forbidden, reason: "only the primary of the account's roster may remove a link")
        }
        guard let link, [link.master, link.linked].contains(caller.account), [link.master, link.linked].contains(account) else {
            return .refused(.notFound, reason: "\(caller.account) and \(account) are not linked")
        }
        if let primary = linkedRoster?.primary.deviceID, ReadState.account(ofDevice: primary) == link.master {
            return .refused(.conflict, reason: """
                \(link.linked)'s primary is \(primary), a device of \(link.master): hand it over to a device of \(link.linked) \
                first (`kith primary hand-over DEVICE --account \(link.linked)`), or recover it, then remove the link
                """)
        }
        return .allowed
    }
}

// MARK: - One connection, many accounts (Protocol/links.md §One connection, many accounts)

extension ServerRules {
    /// `ForAccount { account }` from a device: the link (the caller's account is `account`'s
    /// master) stands, and `account`'s stored roster lists the caller — id and key — as linked
    /// or primary. A link alone (a row in the server's database) is not enough: the linked
    /// account's primary must have signed the device in.
    ///   - master: `account`'s master, if it is linked under one.
    ///   - roster: `account`'s stored roster.
    ///   - firstRoster: the request is a `RosterPublish` and `account` has neither a roster nor a
    ///     device of its own: a master's device may then make its first roster, as its first
    ///     device would (`firstRoster(_:publishedBy:firstDeviceID:master:)` decides the rest).
    public static func actFor(_ account: String, by caller: Caller, master: String?, roster: ValidRoster?,
                              firstRoster: Bool = false) -> Decision {
        guard master == caller.account else {
            return .refused(.forbidden, reason: "\(account) is not linked under \(caller.account)")
        }
        if roster == nil && firstRoster { return .allowed }
        guard let member = roster?.member(caller.deviceID), member.key == caller.key,
              member.role == .linked || member.role == .primary else {
            return .refused(.forbidden, reason: "\(account)'s roster does not list \(caller.deviceID): its primary approves it first")
        }
        return .allowed
    }

    /// Whether a `ForAccount` may carry a message of `type`: a request a logged-in device makes,
    /// except those that are about the connection's own session and account.
    public static func mayCarry(_ type: MessageType) -> Bool {
        switch type {
        case .login, .resume, .signup, .logout, .accountLink, .accountUnlink, .accountSetMaster, .forAccount, .hello, .ping: false
        default: admission(of: type, loggedIn: true) == .admitted
        }
    }
}

// MARK: - Changing the master (Protocol/links.md §Changing the master)

extension ServerRules {
    /// `AccountSetMaster { account }` from a device of the master, once `account`'s password
    /// checked out: by the primary of the master's stored roster, of an account linked under it,
    /// and not while a device of the master is the primary of an account linked under it (that
    /// account would be left without a primary of its own, as after an unlink).
    ///   - linked: the accounts linked under the caller's account, with their stored rosters.
    public static func setMaster(_ account: String, by caller: Caller, roster: ValidRoster?,
                                 linked: [(account: String, roster: ValidRoster?)]) -> Decision {
        guard let roster, roster.primary.deviceID == caller.deviceID, roster.primary.key == caller.key else {
            return .refused(.forbidden, reason: "only the primary of the account's roster may change its master")
        }
        guard linked.contains(where: { $0.account == account }) else {
            return .refused(.notFound, reason: "\(account) is not linked under \(caller.account)")
        }
        for other in linked {
            guard let primary = other.roster?.primary.deviceID, ReadState.account(ofDevice: primary) == caller.account else { continue }
            return .refused(.conflict, reason: """
                \(other.account)'s primary is \(primary), a device of \(caller.account): hand it over to a device of \
                \(other.account) first (`kith primary hand-over DEVICE --account \(other.account)`)
                """)
        }
        return .allowed
    }
}
