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
    /// Tells the other instances that `account`'s devices, presence, contacts or documents changed.
    func announce(changedAccount account: String, by instance: String) throws
    /// Tells the other instances that a device wants a transit stream to `notice.to`, which is
    /// online on one of them; the ticket is `instance`'s (spec §Transit, Across instances).
    func offerTransit(_ notice: TransitNotice, by instance: String) throws
    /// From now on: `relays` hears the receivers of payloads any instance committed, soon after
    /// each commit, and nil when some may have been missed (the watch was cut and is back), when
    /// every online receiver reads its queue again; `accounts` hears the accounts the other
    /// instances announce (not `instance`'s own), and `transits` the transit offers they make.
    /// One receiver's payloads get ids in the order they commit, whichever instance commits
    /// them, so a reader that reads after the last id it has misses none.
    func watch(besides instance: String, relays: @escaping @Sendable ([String]?) -> Void,
               accounts: @escaping @Sendable (String) -> Void, transits: @escaping @Sendable (TransitNotice) -> Void)
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

    /// As a notification's payload: `INSTANCE TO FROM TICKET-HEX AT` (device ids and addresses
    /// hold no space).
    public func payload(by instance: String) -> String {
        [instance, to, from, ticket.hexString, at].joined(separator: " ")
    }

    /// A payload `payload(by:)` made, and the instance that sent it; nil for anything else.
    public static func parse(_ payload: String) -> (instance: String, notice: TransitNotice)? {
        let parts = payload.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 5, parts.allSatisfy({ !$0.isEmpty }), let ticket = [UInt8](hexString: parts[3]), ticket.count == 16
        else { return nil }
        return (parts[0], TransitNotice(to: parts[1], from: parts[2], ticket: ticket, at: parts[4]))
    }
}
