import KithCore
import KithStore
import KithWire

/// Linked accounts in presence (Protocol/links.md §One connection, many accounts): what an
/// account's devices get, the master's devices its roster lists get too, wrapped in
/// `ForAccount` for it, on the connection they already have.
extension Presence {
    /// Sends `envelope` to every online device of `account`, and wrapped for it to the master's
    /// devices that hold it.
    func send(_ envelope: Envelope, toAccount account: String) {
        send(envelope, toDevicesOf: devices(of: account))
        let linked = linkedMembers(of: account)
        if !linked.isEmpty { send(Self.wrapped(envelope, for: account), toDevicesOf: linked) }
    }

    /// A master's device came online, or was signed into `account`'s roster: it gets the
    /// account's lists, and `documents` (its rosters and policies), wrapped for it.
    /// `deviceListSent`: the account's device list went out just now (a master's login sends
    /// its linked accounts' lists with its own).
    func join(deviceID: String, linkedAccount account: String, documents: [Envelope], deviceListSent: Bool = false) {
        guard linkedMembers(of: account).contains(where: { $0.id == deviceID }) else { return }
        if !deviceListSent { pushDeviceList(account: account) }
        pushContacts(account: account)
        for document in documents { _ = sendIfOnline(Self.wrapped(document, for: account), to: deviceID) }
    }

    static func wrapped(_ envelope: Envelope, for account: String) -> Envelope {
        Envelope(.forAccount(.init(account: account, message: (try? envelope.encode()) ?? [])))
    }
}
