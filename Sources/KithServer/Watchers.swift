import KithCore
import KithStore
import KithWire
import Logging
import NIOCore

/// The watch sessions on this server and what they are sent (spec §Watch sessions): each one's
/// subscription (a few contacts of its account) and the state it was last sent, so that a
/// change among other contacts, or a change that changes nothing it shows, costs it nothing.
actor Watchers {
    struct Watcher {
        let account: String
        /// Its token's hash: checked before each push, so a revoked session hears nothing more.
        let tokenHash: [UInt8]
        var contacts: [String]
        let outbound: NIOAsyncChannelOutboundWriter<Envelope>
        var sent: [WatchEntry]
    }

    private let store: any ServerStore
    private let presence: Presence
    private let logger: Logger
    private let now: @Sendable () -> UInt64
    private var watchers: [UInt64: Watcher] = [:]

    init(store: any ServerStore, presence: Presence, logger: Logger, now: @escaping @Sendable () -> UInt64) {
        self.now = now
        self.store = store
        self.presence = presence
        self.logger = logger
    }

    /// Subscribes the watch session on `connectionID` to `contacts` (replacing its list) and
    /// returns their state now, which it is answered with.
    func subscribe(connectionID: UInt64, account: String, tokenHash: [UInt8], contacts: [String],
                   outbound: NIOAsyncChannelOutboundWriter<Envelope>) async -> [WatchEntry] {
        let entries = await state(account: account, contacts: contacts)
        watchers[connectionID] = Watcher(account: account, tokenHash: tokenHash, contacts: contacts, outbound: outbound, sent: entries)
        return entries
    }

    func leave(connectionID: UInt64) {
        watchers[connectionID] = nil
    }

    /// A device of `account` came online or went offline: the watchers of `account` (as a contact) hear of it.
    func presenceChanged(of account: String) async {
        await refresh { $0.contacts.contains(account) }
    }

    /// `account`'s unread count for `contact` may have changed.
    func unreadChanged(account: String, contact: String) async {
        await refresh { $0.account == account && $0.contacts.contains(contact) }
    }

    /// Sends the watchers `affected` picks their state, if it changed since they were last sent it.
    private func refresh(_ affected: (Watcher) -> Bool) async {
        for (id, watcher) in watchers where affected(watcher) {
            guard (try? store.watchSession(tokenHash: watcher.tokenHash, now: now())) != nil else {
                // Revoked or expired: told once, then it hears nothing until it signs in again.
                watchers[id] = nil
                let outbound = watcher.outbound
                Task { try? await outbound.write(Envelope(.errorMessage(.init(code: ErrorCode.sessionExpired.rawValue,
                                                                               message: "the watch session is over; sign in again")))) }
                continue
            }
            let entries = await state(account: watcher.account, contacts: watcher.contacts)
            guard var current = watchers[id], current.sent != entries else { continue }
            current.sent = entries
            watchers[id] = current
            let outbound = current.outbound
            Task { try? await outbound.write(Envelope(.watchState(.init(entries: entries)))) }
        }
    }

    /// The entries of `contacts`, read now: which are contacts, their devices online, their unread counts.
    private func state(account: String, contacts: [String]) async -> [WatchEntry] {
        let accepted = (try? store.acceptedContacts(of: account, among: contacts)) ?? []
        let known = contacts.filter(accepted.contains)
        let online = await presence.onlineDeviceCounts(of: known)
        let unread = (try? store.unreadCounts(account: account, contacts: known)) ?? [:]
        return contacts.map { contact in
            guard accepted.contains(contact) else { return WatchEntry(contact: contact, known: false, onlineDevices: 0, unread: 0) }
            return WatchEntry(contact: contact, known: true, onlineDevices: UInt32(clamping: online[contact] ?? 0),
                              unread: UInt32(clamping: unread[contact] ?? 0))
        }
    }
}
