import KithCore
import KithStore
import KithWire
import Logging
import NIOCore

/// Who is online, and what follows from it: the device list every online device of an account
/// receives, its contacts' devices and rosters, and the delivery of relayed payloads.
///
/// Each online session has one `SessionOutbox`, written on its channel's event loop in the order
/// things are handed to it, so a device receives lists and documents before the relayed payloads
/// that depend on them. Relayed payloads go from the group committer to the receiver's outbox
/// (`outboxes`, kept here as devices come and go) without this actor.
actor Presence {
    struct Session {
        let connectionID: UInt64
        let account: String
        /// The source address it connected from.
        let address: String
        let outbox: SessionOutbox
        let close: @Sendable () -> Void
    }

    /// Set when other instances share the store (`SharedServerStore`): this instance's id, and
    /// how recently another instance must have reported for its devices to count as online.
    struct Sharing: Sendable {
        let store: any SharedServerStore
        let instance: String
        let liveWithinMillis: UInt64
    }

    let store: any ServerStore
    let sharing: Sharing?
    let logger: Logger
    let now: @Sendable () -> UInt64
    fileprivate(set) var online: [String: Session] = [:]
    /// The online sessions' outboxes, for the committer.
    nonisolated let outboxes = Outboxes()
    private var revision: UInt64 = 0
    /// The reads of the step in progress (`oneStep`), nil between steps.
    var reads: PresenceReads?

    init(store: any ServerStore, sharing: Sharing? = nil, logger: Logger, now: @escaping @Sendable () -> UInt64) {
        self.store = store
        self.sharing = sharing
        self.logger = logger
        self.now = now
    }

    /// Registers the connection as the device's session; an older session of the same device is closed.
    /// `documents` (the account's rosters and policies) go right after the device list, before
    /// anything queued: a relayed payload from a newly approved sibling must not arrive before
    /// the roster that approves it.
    func goOnline(deviceID: String, account: String, connectionID: UInt64, address: String = "?",
                  outbox: SessionOutbox, close: @escaping @Sendable () -> Void,
                  documents: [Envelope] = [], linked: [(account: String, documents: [Envelope])] = []) {
        // Revoked between its login and now (`cutOff` runs after the store's revocation, on this actor):
        // it does not go online.
        guard (try? store.device(id: deviceID)) != nil else {
            logger.notice("\(deviceID) was revoked while it logged in; closing its connection")
            close()
            return
        }
        if let previous = online[deviceID], previous.connectionID != connectionID {
            // The connection accepted last keeps the session, whichever of them got here first
            // (a login's connection can reach this after the resume that followed it).
            guard previous.connectionID < connectionID else {
                replace(Session(connectionID: connectionID, account: account, address: address, outbox: outbox, close: close),
                        of: deviceID, by: previous.address)
                return
            }
            replace(previous, of: deviceID, by: address)
        }
        online[deviceID] = Session(connectionID: connectionID, account: account, address: address, outbox: outbox, close: close)
        outboxes.set(outbox, for: deviceID)
        takeOver(deviceID, from: address)
        share(deviceID, online: true)
        oneStep {
            pushDeviceList(account: account)
            pushContacts(account: account)
            outbox.send(documents)
            // The linked accounts this device holds, before anything queued for them.
            for account in linked {
                join(deviceID: deviceID, linkedAccount: account.account, documents: account.documents, deviceListSent: true)
            }
            outbox.startRelays()
        }
    }

    /// Another connection logged in with the key of a device that is online: a device that
    /// reconnected before its old connection timed out, or a second copy of it (a copied profile),
    /// whose deliveries would split between the two. The new connection keeps the session; the
    /// old one is told why (`sessionReplaced`, spec §Sessions) and closed, and does not come back
    /// on its own.
    private func replace(_ previous: Session, of deviceID: String, by address: String) {
        logger.notice("""
            \(deviceID) logged in from \(address) while connected from \(previous.address): the earlier connection is closed \
            (a second copy of the device, if it was still running)
            """)
        let notice = Envelope(.errorMessage(.init(
            code: ErrorCode.sessionReplaced.rawValue,
            message: "another copy of this device (the same key) connected from \(address); this one is disconnected")))
        previous.outbox.send([notice], thenClose: true)
    }

    /// Another instance says `deviceID` logged in there from `address` (`takeOver`): its session
    /// here, if any, is told why and closed; it stays online (there), so no list changes.
    func movedElsewhere(_ deviceID: String, address: String) {
        guard let session = online.removeValue(forKey: deviceID) else { return }
        outboxes.set(nil, for: deviceID)
        replace(session, of: deviceID, by: "\(address) (on another instance of this server)")
    }

    /// Sends `envelope` to every online device of the account (a roster or a policy just stored).
    func broadcast(_ envelope: Envelope, account: String) {
        send(envelope, toAccount: account)
        announce(account)
    }

    /// Sends `envelope` to every online device of each accepted contact of `account` (a roster of
    /// `account` just stored).
    func broadcastToContacts(_ envelope: Envelope, of account: String) {
        for contact in (try? store.contacts(account: account)) ?? [] where contact.state == .contact {
            send(envelope, toAccount: contact.account)
        }
    }

    /// A revoked device: its session is closed now, and its siblings get the list without it.
    func cutOff(deviceID: String, account: String) {
        online.removeValue(forKey: deviceID)?.close()
        outboxes.set(nil, for: deviceID)
        share(deviceID, online: false)
        pushDeviceList(account: account)
    }

    func goOffline(deviceID: String, connectionID: UInt64) {
        guard let session = online[deviceID], session.connectionID == connectionID else { return }
        online[deviceID] = nil
        outboxes.set(nil, for: deviceID)
        share(deviceID, online: false)
        try? store.touch(deviceID: deviceID, now: now())
        oneStep { pushDeviceList(account: session.account) }
    }

    /// Sends the account's device list to each of its online devices, and the account's devices
    /// to each online device of its contacts (ContactDevices).
    /// A linked account's list also names its master's devices (Protocol/links.md §The linked
    /// role): they are pending in it until its roster lists them as linked. A change to a
    /// master's devices is sent in its linked accounts' lists too.
    /// With `announce` (and other instances on the store), they are told to do the same for their devices.
    func pushDeviceList(account: String, announce: Bool = true) {
        let devices = devices(of: account)
        let listed = devices + masterDevices(of: account)
        let elsewhere = onlineElsewhere(listed + linkedMembers(of: account))
        let list = Envelope(.deviceList(DeviceList(revision: nextRevision(),
                                                   devices: listed.map { info($0, addresses: true, elsewhere: elsewhere) })))
        send(list, toAccount: account)
        // Contacts see the account's own devices and the master's it approved (they get its messages).
        let seen = devices + linkedMembers(of: account)
        for contact in contacts(of: account) ?? [] where contact.state == .contact {
            send(contactDevices(account, seen, elsewhere: elsewhere), toAccount: contact.account)
        }
        for linked in linkedAccounts(of: account) { pushDeviceList(account: linked, announce: announce) }
        if announce { self.announce(account) }
    }

    /// Sends the account's contact list, then each contact's devices and roster chain, to each
    /// online device of it. The rosters come after the devices and before any relayed payload,
    /// so a message from a contact's newly approved device never arrives before the roster that
    /// approves it (roster.md §Contacts' rosters).
    func pushContacts(account: String, announce: Bool = true) {
        if announce { self.announce(account) }
        guard (devices(of: account) + linkedMembers(of: account)).contains(where: { online[$0.id] != nil }),
              let contacts = contacts(of: account)
        else { return }
        send(Envelope(.contactList(ContactList(revision: nextRevision(), contacts: contacts.map {
            ContactInfo(account: $0.account, state: $0.state)
        }))), toAccount: account)
        for contact in contacts where contact.state == .contact {
            let seen = devices(of: contact.account) + linkedMembers(of: contact.account)
            send(contactDevices(contact.account, seen, elsewhere: onlineElsewhere(seen)), toAccount: account)
            for document in rosterChain(of: contact.account) {
                send(Envelope(.contactRoster(.init(account: contact.account, roster: document))), toAccount: account)
            }
        }
    }

    private func contactDevices(_ account: String, _ devices: [DeviceRecord], elsewhere: Set<String>) -> Envelope {
        // A contact learns keys and presence, not addresses.
        Envelope(.contactDevices(ContactDevices(account: account, revision: nextRevision(),
                                                devices: devices.map { info($0, addresses: false, elsewhere: elsewhere) })))
    }

    /// `elsewhere`: devices online on other instances of a shared store.
    private func info(_ device: DeviceRecord, addresses: Bool, elsewhere: Set<String>) -> DeviceInfo {
        DeviceInfo(deviceID: device.id, name: device.name, terminalType: device.terminalType, key: device.key,
                   online: online[device.id] != nil || elsewhere.contains(device.id), lastSeenMillis: device.lastSeenMillis,
                   clientVersion: device.clientVersion, addresses: addresses ? device.addresses : [],
                   publicAddresses: addresses ? device.publicAddresses : [])
    }

    /// Queues `envelope` for `deviceID` if it is online (not stored: for offers that only make
    /// sense now); false if it is not.
    func sendIfOnline(_ envelope: Envelope, to deviceID: String) -> Bool {
        guard let session = online[deviceID] else { return false }
        session.outbox.send([envelope])
        return true
    }

    private func nextRevision() -> UInt64 {
        revision = max(revision + 1, now())  // grows across restarts too
        return revision
    }

    func send(_ envelope: Envelope, toDevicesOf devices: [DeviceRecord]) {
        for device in devices { online[device.id]?.outbox.send([envelope]) }
    }

}

extension Presence {
    /// Device sessions online on this instance.
    func sessionCount() -> Int { online.count }

    /// How many devices of each account are online now (a watch session's presence).
    func onlineDeviceCounts(of accounts: [String]) -> [String: Int] {
        oneStep {
            Dictionary(accounts.map { account in (account, devices(of: account).filter { online[$0.id] != nil }.count) },
                       uniquingKeysWith: { first, _ in first })
        }
    }
}
