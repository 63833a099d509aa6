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
    /// From now on: `relays` hears the receivers of payloads any instance committed, soon after
    /// each commit, and nil when some may have been missed (the watch was cut and is back), when
    /// every online receiver reads its queue again; `accounts` hears the accounts the other
    /// instances announce (not `instance`'s own). One receiver's payloads get ids in the order
    /// they commit, whichever instance commits them, so a reader that reads after the last id
    /// it has misses none.
    func watch(besides instance: String, relays: @escaping @Sendable ([String]?) -> Void,
               accounts: @escaping @Sendable (String) -> Void)
}
