/// Linked accounts (Protocol/links.md; Protocol/local-api.md §Linked accounts): the accounts this
/// agent holds, and links between accounts made and removed.

/// Every account the agent holds, with where it stands among linked accounts.
public struct AccountsRequest: APIRequest {
    public typealias Result = AccountsResult
    public static let method = AgentMethod.accounts
    public init() {}
}

/// Links `account` under the account the request is for (its master), checked with `password`.
public struct AccountLinkRequest: APIRequest {
    public typealias Result = AccountEntry
    public static let method = AgentMethod.accountLink
    public var account: String
    public var password: String
    public init(account: String, password: String) {
        (self.account, self.password) = (account, password)
    }
}

/// Removes the link between the account the request is for and `account`, either way round.
public struct AccountUnlinkRequest: APIRequest {
    public typealias Result = AccountEntry
    public static let method = AgentMethod.accountUnlink
    public var account: String
    public init(account: String) { self.account = account }
}

/// Makes `account`, linked under the account the request is for, the master instead (checked
/// with its password): of this account and of every other account linked under it.
public struct AccountSetMasterRequest: APIRequest {
    public typealias Result = AccountEntry
    public static let method = AgentMethod.accountSetMaster
    public var account: String
    public var password: String
    public init(account: String, password: String) {
        (self.account, self.password) = (account, password)
    }
}

public struct AccountsResult: Codable, Sendable, Equatable {
    /// The default account first.
    public var accounts: [AccountEntry]
    public init(accounts: [AccountEntry]) { self.accounts = accounts }
}

/// One account of the agent: its links as its server last said, and its unread messages.
public struct AccountEntry: Codable, Sendable, Equatable {
    public var account: String
    /// `name@serverkey` (what `account` in a request names when one name is on two servers).
    public var owner: String
    /// `master` (accounts are linked under it), `linked` (it is linked under `master`), or
    /// `single`.
    public var role: String
    public var master: String?
    public var linked: [String]
    /// Unread messages from contacts, per contact; `unreadTotal` is their sum.
    public var unread: [String: Int]
    public var unreadTotal: Int
    public var connected: Bool
    /// After `accountLink` of an account that had no device: this device became its primary,
    /// and this is its new recovery key, shown once (keep it offline).
    public var recoveryKey: String?

    public init(account: String, owner: String, role: String, master: String? = nil, linked: [String] = [],
                unread: [String: Int] = [:], connected: Bool) {
        self.account = account
        self.owner = owner
        self.role = role
        self.master = master
        self.linked = linked
        self.unread = unread
        self.unreadTotal = unread.values.reduce(0, +)
        self.connected = connected
    }
}
