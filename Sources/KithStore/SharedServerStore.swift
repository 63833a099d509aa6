import KithCrypto

/// What a store several `kith server` instances share adds to `ServerStore`: who is online on
/// which instance, and word to the other instances that an account changed, so that a device
/// sees its siblings and contacts as they are whichever instance each is on. A store only one
/// instance uses (SQLite) has no need of it; the server asks `store as? SharedServerStore`.
public protocol SharedServerStore: ServerStore {
    /// `deviceID` is online on `instance` (`online`), or no longer is (a row of another
    /// instance, which the device moved to meanwhile, is left alone).
    func setPresence(deviceID: String, online: Bool, instance: String) throws
    /// Which of `deviceIDs` are online on an instance other than `instance` that reported itself
    /// (`recordInstance`) at or after `since`: a killed instance's devices count as offline once
    /// its reports stop.
    func onlineElsewhere(_ deviceIDs: [String], besides instance: String, seenSince since: UInt64) throws -> Set<String>
    /// Tells the other instances `word`.
    func tell(_ word: InstanceWord, by instance: String) throws
    /// From now on: `relays` hears a `RelayNotice` for each receiver of payloads any instance
    /// committed (this one too), soon after each commit, and nil when some may have been missed
    /// (the watch was cut and is back), when every online receiver reads its queue again;
    /// `heard` hears what the other instances `tell` (not `instance`'s own word). One
    /// receiver's payloads get ids in the order they commit, whichever instance commits them,
    /// so a reader that reads after the last id it has misses none.
    func watch(besides instance: String, relays: @escaping @Sendable (RelayNotice?) -> Void,
               heard: @escaping @Sendable (InstanceWord) -> Void)
    /// Whether the watch hears the store now (its connection is up and listening).
    var isWatching: Bool { get }
}

/// What one instance tells the others, at once and not stored: word that is not heard (the
/// watch was cut) costs a delay, a retry, or a copy's old session left open until its
/// connection ends — never data, which is in the store.
public enum InstanceWord: Sendable, Equatable {
    /// The account's devices, presence, contacts or documents changed: the instances push its
    /// lists and documents to its devices online on them.
    case accountChanged(String)
    /// A transit ticket for a device online on another instance (spec §Transit, Across instances).
    case transit(TransitNotice)
    /// The device logged in on the telling instance from `address` while it was online on
    /// another: that one closes its session there (`sessionReplaced`, spec §Sessions).
    case sessionMoved(deviceID: String, address: String)
    /// A password for `account` from the source `address` was checked, and was `right` or
    /// wrong: every instance counts it in its login limits (spec §Sessions).
    case loginChecked(account: String, address: String, right: Bool)

    /// The channels a store carries word on, one per kind (PostgreSQL's `NOTIFY` channels).
    public static let channels = ["kith_account", "kith_transit", "kith_session", "kith_login"]

    /// As a notification: its channel, and a payload that starts with the telling instance's id
    /// (ids, account names, device ids and addresses hold no space).
    public func notification(by instance: String) -> (channel: String, payload: String) {
        switch self {
        case .accountChanged(let account):
            return (Self.channels[0], "\(instance) \(account)")
        case .transit(let notice):
            return (Self.channels[1], [instance, notice.to, notice.from, notice.ticket.hexString, notice.at].joined(separator: " "))
        case .sessionMoved(let deviceID, let address):
            return (Self.channels[2], "\(instance) \(deviceID) \(address)")
        case .loginChecked(let account, let address, let right):
            // The account last: a name from a failed login may hold anything.
            return (Self.channels[3], "\(instance) \(right ? "right" : "wrong") \(address) \(account)")
        }
    }

    /// A notification `notification(by:)` made, and the instance that sent it; nil for anything else.
    public static func parse(channel: String, payload: String) -> (instance: String, word: InstanceWord)? {
        if channel == channels[3] {
            let parts = payload.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 4, !parts[0].isEmpty, !parts[2].isEmpty, ["right", "wrong"].contains(parts[1]) else { return nil }
            return (parts[0], .loginChecked(account: parts[3], address: parts[2], right: parts[1] == "right"))
        }
        let parts = payload.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        guard parts.allSatisfy({ !$0.isEmpty }) else { return nil }
        switch (channel, parts.count) {
        case (channels[0], 2):
            return (parts[0], .accountChanged(parts[1]))
        case (channels[1], 5):
            guard let ticket = [UInt8](hexString: parts[3]), ticket.count == 16 else { return nil }
            return (parts[0], .transit(TransitNotice(to: parts[1], from: parts[2], ticket: ticket, at: parts[4])))
        case (channels[2], 3):
            return (parts[0], .sessionMoved(deviceID: parts[1], address: parts[2]))
        default:
            return nil
        }
    }
}

/// A transit ticket an instance made for a device online on another: the instance that holds
/// `to` passes it on as a `TransitOffer` naming `at`, where the ticket is joined. Word between
/// instances, never stored: an offer not heard (the watch was cut) costs the requester its 30 s
/// ticket, as an offer to a device that went away does.
public struct TransitNotice: Sendable, Equatable {
    public let to: String
    public let from: String
    public let ticket: [UInt8]
    /// HOST:PORT of the instance that made the ticket, as devices reach it.
    public let at: String

    public init(to: String, from: String, ticket: [UInt8], at: String) {
        self.to = to
        self.from = from
        self.ticket = ticket
        self.at = at
    }
}
