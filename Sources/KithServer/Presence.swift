import KithCore
import KithStore
import KithWire
import Logging
import NIOCore

/// Who is online, and what follows from it: the device list every online device of an account
/// receives, its contacts' devices and rosters, and the delivery of relayed payloads.
///
/// Each online session has one send queue and one writer task that drains it, so what a device
/// receives is in the order it was queued: lists and documents before the relayed payloads that
/// depend on them. Relayed payloads are committed by `RelayCommitter` and handed here in commit
/// order, so their ids and their order in the queue agree; which of them are queued and which
/// wait in the store is each session's `RelayBacklog`. Otherwise a payload goes from the sender's
/// session to the receiver's socket without a store read.
actor Presence {
    struct Session {
        let connectionID: UInt64
        let account: String
        /// The source address it connected from.
        let address: String
        let outbound: NIOAsyncChannelOutboundWriter<Envelope>
        let close: @Sendable () -> Void
        var queue: [Envelope] = []
        var writing = false
        var relays = RelayBacklog()
    }

    let store: any ServerStore
    private let logger: Logger
    private let now: @Sendable () -> UInt64
    fileprivate(set) var online: [String: Session] = [:]
    private var revision: UInt64 = 0
    /// The reads of the step in progress (`oneStep`), nil between steps.
    var reads: PresenceReads?

    init(store: any ServerStore, logger: Logger, now: @escaping @Sendable () -> UInt64) {
        self.store = store
        self.logger = logger
        self.now = now
    }

    /// Registers the connection as the device's session; an older session of the same device is closed.
    /// `documents` (the account's rosters and policies) go right after the device list, before
    /// anything queued: a relayed payload from a newly approved sibling must not arrive before
    /// the roster that approves it.
    func goOnline(deviceID: String, account: String, connectionID: UInt64, address: String = "?",
                  outbound: NIOAsyncChannelOutboundWriter<Envelope>, close: @escaping @Sendable () -> Void,
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
                replace(Session(connectionID: connectionID, account: account, address: address, outbound: outbound, close: close),
                        of: deviceID, by: previous.address)
                return
            }
            replace(previous, of: deviceID, by: address)
        }
        online[deviceID] = Session(connectionID: connectionID, account: account, address: address, outbound: outbound, close: close)
        oneStep {
            pushDeviceList(account: account)
            pushContacts(account: account)
            online[deviceID]?.queue.append(contentsOf: documents)
            // The linked accounts this device holds, before anything queued for them.
            for account in linked {
                join(deviceID: deviceID, linkedAccount: account.account, documents: account.documents, deviceListSent: true)
            }
            reload(deviceID)
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
        Task {
            try? await previous.outbound.write(notice)
            previous.close()
        }
    }

    /// Sends `envelope` to every online device of the account (a roster or a policy just stored).
    func broadcast(_ envelope: Envelope, account: String) {
        send(envelope, toAccount: account)
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
        pushDeviceList(account: account)
    }

    func goOffline(deviceID: String, connectionID: UInt64) {
        guard let session = online[deviceID], session.connectionID == connectionID else { return }
        online[deviceID] = nil
        try? store.touch(deviceID: deviceID, now: now())
        oneStep { pushDeviceList(account: session.account) }
    }

    /// Payloads just committed (`RelayCommitter`, in commit order): each is queued for its
    /// receiver if it is online and its queue has room; otherwise it waits in the store.
    func admit(_ records: [RelayRecord]) {
        var started: Set<String> = []
        for record in records {
            guard var session = online[record.to] else { continue }
            let queue = session.relays.admit(id: record.id, queued: session.queue.count)
            if queue { session.queue.append(Self.delivery(record)) }
            online[record.to] = session
            if queue { started.insert(record.to) }
        }
        for receiver in started { startWriter(receiver) }
    }

    /// A queued payload as the receiver gets it: wrapped for the linked account it is for.
    private static func delivery(_ record: RelayRecord) -> Envelope {
        let deliver = Envelope(.relayDeliver(.init(relayID: UInt64(record.id), from: record.from, payload: record.payload,
                                                   code: record.code.map(UInt64.init), fromAccount: record.fromAccount)))
        return record.scope.map { wrapped(deliver, for: $0) } ?? deliver
    }

    /// Sends the account's device list to each of its online devices, and the account's devices
    /// to each online device of its contacts (ContactDevices).
    /// A linked account's list also names its master's devices (Protocol/links.md §The linked
    /// role): they are pending in it until its roster lists them as linked. A change to a
    /// master's devices is sent in its linked accounts' lists too.
    func pushDeviceList(account: String) {
        let devices = devices(of: account)
        let listed = devices + masterDevices(of: account)
        let list = Envelope(.deviceList(DeviceList(revision: nextRevision(), devices: listed.map { info($0, addresses: true) })))
        send(list, toAccount: account)
        // Contacts see the account's own devices and the master's it approved (they get its messages).
        let seen = devices + linkedMembers(of: account)
        for contact in (try? store.contacts(account: account)) ?? [] where contact.state == .contact {
            send(contactDevices(account, seen), toAccount: contact.account)
        }
        for linked in (try? store.linkedAccounts(of: account)) ?? [] { pushDeviceList(account: linked) }
    }

    /// Sends the account's contact list, then each contact's devices and roster chain, to each
    /// online device of it. The rosters come after the devices and before any relayed payload,
    /// so a message from a contact's newly approved device never arrives before the roster that
    /// approves it (roster.md §Contacts' rosters).
    func pushContacts(account: String) {
        guard (devices(of: account) + linkedMembers(of: account)).contains(where: { online[$0.id] != nil }),
              let contacts = try? store.contacts(account: account)
        else { return }
        send(Envelope(.contactList(ContactList(revision: nextRevision(), contacts: contacts.map {
            ContactInfo(account: $0.account, state: $0.state)
        }))), toAccount: account)
        for contact in contacts where contact.state == .contact {
            send(contactDevices(contact.account, devices(of: contact.account) + linkedMembers(of: contact.account)), toAccount: account)
            for document in rosterChain(of: contact.account) {
                send(Envelope(.contactRoster(.init(account: contact.account, roster: document))), toAccount: account)
            }
        }
    }

    private func contactDevices(_ account: String, _ devices: [DeviceRecord]) -> Envelope {
        // A contact learns keys and presence, not addresses.
        Envelope(.contactDevices(ContactDevices(account: account, revision: nextRevision(),
                                                devices: devices.map { info($0, addresses: false) })))
    }

    private func info(_ device: DeviceRecord, addresses: Bool) -> DeviceInfo {
        DeviceInfo(deviceID: device.id, name: device.name, terminalType: device.terminalType, key: device.key,
                   online: online[device.id] != nil, lastSeenMillis: device.lastSeenMillis,
                   clientVersion: device.clientVersion, addresses: addresses ? device.addresses : [],
                   publicAddresses: addresses ? device.publicAddresses : [])
    }

    /// Queues `envelope` for `deviceID` if it is online (not stored: for offers that only make
    /// sense now); false if it is not.
    func sendIfOnline(_ envelope: Envelope, to deviceID: String) -> Bool {
        guard online[deviceID] != nil else { return false }
        online[deviceID]?.queue.append(envelope)
        startWriter(deviceID)
        return true
    }

    private func nextRevision() -> UInt64 {
        revision = max(revision + 1, now())  // grows across restarts too
        return revision
    }

    func send(_ envelope: Envelope, toDevicesOf devices: [DeviceRecord]) {
        for device in devices where online[device.id] != nil {
            online[device.id]?.queue.append(envelope)
            startWriter(device.id)
        }
    }

    /// Queues what the store holds for `deviceID` after what was queued already.
    private func reload(_ deviceID: String) {
        guard var session = online[deviceID], let read = session.relays.reload(queued: session.queue.count) else { return }
        do {
            let records = try store.pendingRelays(to: deviceID, after: read.after, limit: read.limit)
            session.queue += records.map(Self.delivery)
            session.relays.reloaded(records.map(\.id), limit: read.limit)
        } catch {
            logger.error("relay queue of \(deviceID) unreadable: \(error)")
        }
        online[deviceID] = session
        startWriter(deviceID)
    }

    private func startWriter(_ deviceID: String) {
        guard let session = online[deviceID], !session.writing, !session.queue.isEmpty else { return }
        online[deviceID]?.writing = true
        let connectionID = session.connectionID, outbound = session.outbound
        Task { await self.drain(deviceID, connectionID: connectionID, outbound: outbound) }
    }

    /// The one writer of a session: sends its queue in order until it is empty.
    private func drain(_ deviceID: String, connectionID: UInt64, outbound: NIOAsyncChannelOutboundWriter<Envelope>) async {
        while true {
            guard var session = online[deviceID], session.connectionID == connectionID else { return }
            if session.queue.isEmpty && session.relays.inStore {
                reload(deviceID)
                session = online[deviceID] ?? session
                online[deviceID]?.writing = true
            }
            guard !session.queue.isEmpty else {
                online[deviceID]?.writing = false
                return
            }
            let batch = session.queue
            online[deviceID]?.queue = []
            do {
                try await outbound.write(contentsOf: batch)
            } catch {
                // The connection is gone (or refused what we wrote): close it, so the device's next
                // session starts over from the store instead of waiting on a writer that stopped.
                online[deviceID]?.writing = false
                session.close()
                return
            }
        }
    }
}

extension Presence {
    /// How many devices of each account are online now (a watch session's presence).
    func onlineDeviceCounts(of accounts: [String]) -> [String: Int] {
        oneStep {
            Dictionary(accounts.map { account in (account, devices(of: account).filter { online[$0.id] != nil }.count) },
                       uniquingKeysWith: { first, _ in first })
        }
    }
}
