/// The watcher (Protocol/local-api.md §Watch): a few chosen contacts and only what a small view
/// shows of them, so that a watcher that asks pays for three contacts, not the whole list.

/// The state of the named contacts of the account the request is for, in the order named.
public struct WatchRequest: APIRequest {
    public typealias Result = WatchResult
    public static let method = AgentMethod.watch
    public var contacts: [String]
    public init(contacts: [String]) { self.contacts = contacts }
}

public struct WatchResult: Codable, Sendable, Equatable {
    public var contacts: [WatchedContact]
    public init(contacts: [WatchedContact]) { self.contacts = contacts }
}

/// One watched contact as a watcher shows it.
public struct WatchedContact: Codable, Sendable, Equatable {
    public var account: String
    /// `contact`, `requested`, `incoming`, or `unknown` (not in the contact list: removed, or misspelt).
    public var state: String
    /// Whether any device of the contact is online.
    public var online: Bool
    public var onlineDevices: Int
    /// Messages from the contact not yet viewed on any device of this account.
    public var unread: Int
    /// The first line of the newest message from the contact (nil: none, or the watcher has no
    /// agent to read it from: the server cannot read messages).
    public var newest: String?
    /// That message's code (`kith read CODE`).
    public var newestCode: UInt64?

    public init(account: String, state: String, online: Bool, onlineDevices: Int, unread: Int,
                newest: String? = nil, newestCode: UInt64? = nil) {
        (self.account, self.state, self.online, self.onlineDevices) = (account, state, online, onlineDevices)
        (self.unread, self.newest, self.newestCode) = (unread, newest, newestCode)
    }
}

/// What a watcher shows at most.
public enum WatchLimits {
    /// Contacts one watcher shows: a few, by design.
    public static let contacts = 32
    /// Characters of a message's first line.
    public static let lineCharacters = 120

    /// The first line of `text`, cut to `lineCharacters` (with an ellipsis when cut).
    public static func firstLine(of text: String) -> String {
        let line = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        return line.count > lineCharacters ? String(line.prefix(lineCharacters - 1)) + "…" : line
    }
}

/// Opens the watcher's web page for these contacts (Protocol/local-api.md §The watch page): the
/// agent serves it on 127.0.0.1 under a fresh page key until it stops or the account's page is
/// opened again (which ends the previous one and its key).
public struct WatchPageRequest: APIRequest {
    public typealias Result = WatchPageResult
    public static let method = AgentMethod.watchPage
    public var contacts: [String]
    public init(contacts: [String]) { self.contacts = contacts }
}

public struct WatchPageResult: Codable, Sendable, Equatable {
    /// `http://127.0.0.1:PORT/?key=KEY`: the page, and the page key that opens it.
    public var address: String
    public var port: Int
    public init(address: String, port: Int) { (self.address, self.port) = (address, port) }
}
