import Foundation
import KithAPI
import KithCore
import KithCrypto
import KithNet
import KithStore
import KithWire
import Logging
import NIOCore
import NIOPosix

/// One account on this device: its session with its server, its rows of the store, outbox,
/// relay intake, roster and policy books, contacts' rosters, read state, direct paths, LAN
/// discovery and transfers. The agent holds one per account it is logged in to; they share the
/// device's identity and the store file, and nothing else — two accounts' messages, marks,
/// rosters, policies and transfers cannot meet, because no context can name the other's rows.
/// One actor, so requests, server events and the outbox of an account never race.
actor AccountContext {
    /// What a master tells the agent for the pages of its linked accounts (Protocol/links.md).
    enum PageHostEvent: Sendable {
        /// The accounts linked under it, as the server last said.
        case links([String])
        case connected(ClientConnection, AgentStore.Session)
        case disconnected
        /// Something the server sent for a linked account.
        case message(account: String, Message)
    }

    /// The profile's name, for `kith status`.
    let profile: String
    let store: AgentStore
    let identity: DeviceIdentity
    let logger: Logger
    let group: any EventLoopGroup
    let now: @Sendable () -> UInt64
    let settings: AgentSettings
    /// Hands an event to the agent's subscribers (the agent marks it with this account).
    let emit: @Sendable (AgentEvent) -> Void
    /// Direct UDP paths to the account's other devices; nil with `--udp off`.
    var directPaths: DirectPaths?
    /// File transfers both ways; set in `start`.
    var transfers: Transfers?
    /// DNS-SD on the LAN, once there is a session and a UDP socket, with the day and account
    /// its tag was made for.
    var lan: (discovery: LANDiscovery, day: UInt32, account: String)?
    var lanStarting = false
    /// Outbox items handed on since the agent started: directly, and through the server.
    var sentDirect = 0
    var sentThroughServer = 0
    var lanWatching = false
    var lanProblem: String?
    var discovered: [String: Discovered] = [:]

    /// The roster and policies this device holds (+Roster); nil until it is logged in.
    var rosterBook: RosterBook? { didSet { siblingsCache = nil } }
    /// The stored device list as last read, and the approved siblings in it: read on every
    /// message in and out, changed only by a DeviceList, a roster or a lost server. Every write
    /// of the device list goes through `replaceDevices`/`markOffline` here, which drop them.
    private var devicesCache: [AgentStore.Device]?
    private var siblingsCache: [AgentStore.Device]?
    var policyBook: PolicyBook?
    /// On the primary: `kith approve --auto` (in memory: it closes when the agent stops).
    var approvalWindow = ApprovalWindow()
    var autoApproving = false
    /// The latest roster the server offered that does not list this device: what a new device
    /// recovers from (`kith primary recover`).
    var offeredRoster: SignedDocument?
    /// Contacts' pinned roster chains, by account (+ContactRosters): who of a contact's
    /// devices may have and send messages.
    var contactBooks: [String: ContactRosterBook] = [:]
    /// Messages and rosters refused from contacts since the agent started (`kith status`).
    var refusedFromContacts = 0
    /// Contacts whose unread count changed since the last report, and the task that will
    /// report them (+UnreadReports).
    var unreadToReport: Set<String> = []
    var unreadReporter: Task<Void, Never>?

    /// Connects, resumes, keeps alive and reconnects; set in `start` (a page has none: it rides
    /// on its master's).
    var server: ServerConnection?
    /// On a master: where the pages of its linked accounts hear what they need (the agent).
    var pageHost: (@Sendable (PageHostEvent) async -> Void)?
    /// What the server is reached on while the session is up (the device's own connection, or
    /// for a linked account's page its master's), and that session.
    var connection: (any ServerChannel)?
    var connectedSession: AgentStore.Session?
    /// The server instance `connection` goes to: where transit streams and endpoint probes go.
    var connectedAddress: HostPort?
    var lastError: String?
    var flushing = false
    var flushAgain = false
    /// Per receiver, why the server last refused an item for now (its queue full, this device
    /// not approved): what `kith send` says instead of "queued". Cleared when one goes out.
    var serverRefusals: [String: String] = [:]
    /// While the server refuses items for now, the outbox tries again on its own, at growing
    /// intervals (2 s up to 5 min): nothing else may happen that would trigger it (a receiver
    /// taking its queue is not announced).
    var refusalRetry: Task<Void, Never>?
    var refusalBackoff = Backoff(baseMillis: 2000, capMillis: 300_000)

    init(profile: String, store: AgentStore, identity: DeviceIdentity, logger: Logger, settings: AgentSettings,
         group: any EventLoopGroup, now: @escaping @Sendable () -> UInt64, emit: @escaping @Sendable (AgentEvent) -> Void) {
        self.profile = profile
        self.store = store
        self.identity = identity
        self.logger = logger
        self.settings = settings
        self.group = group
        self.now = now
        self.emit = emit
    }

    /// The account's store owner (`account@serverkey`); '' before its first login.
    nonisolated var owner: String { store.owner }

    /// Binds the UDP socket for direct paths (unless turned off) and starts the server connection.
    func start() async throws {
        loadRosterBooks()
        if let udp = settings.udp {
            let direct = DirectPaths(
                keys: identity.noiseKeyPair, logger: logger, now: now,
                intake: { [weak self] envelope, from in await self?.receiveDirect(envelope, from: from) ?? false },
                onChange: { [weak self] device, mode in Task { await self?.pathChanged(device, mode) } })
            // Port 0 means "any": the last one bound first, so siblings' cached addresses stay right.
            let preferred = udp.port == 0 ? (try? store.udpPort()) ?? nil : nil
            do {
                try await direct.start(host: udp.host, port: preferred ?? udp.port, group: group)
            } catch where preferred != nil {
                try await direct.start(host: udp.host, port: 0, group: group)  // taken meanwhile: any port
            }
            if let port = await direct.localAddress?.port { try? store.saveUDPPort(port) }
            self.directPaths = direct
            await updateDirectPaths()  // the cached device list: direct paths work before (or without) the server
            if settings.lanDiscovery { await startLANDiscovery() }
        }
        await startTransfers()
        let server = ServerConnection(owner: self, dialer: ServerDialer(keys: identity.noiseKeyPair, group: group),
                                      logger: logger, now: now)
        self.server = server
        await server.start()
    }

    /// A linked account's page (Agent+Pages): its books, and nothing that reaches out — no UDP
    /// socket, no transfers, no connection of its own; the agent attaches it to its master's.
    func startAsPage() {
        loadRosterBooks()
    }

    /// Before the process exits (SIGTERM, SIGINT): the server connection closes, and the store's
    /// write-ahead log is folded into the database. Everything acknowledged is committed already;
    /// transfers continue from their last durable step at the next start.
    func stop() async {
        refusalRetry?.cancel()
        await server?.stop()
        await directPaths?.stop()
        do { try store.checkpoint() } catch { logger.warning("store checkpoint on stop failed: \(error)") }
    }

    // MARK: - The server connection

    func connect(invite text: String) async throws -> ClientConnection {
        try await ServerDialer(keys: identity.noiseKeyPair, group: group).connect(invite: text)
    }

    // MARK: - From the server

    /// Carries out what one message from the server asks, in the order messages came.
    func handleServerMessage(_ message: Message, session: AgentStore.Session, connection: any ServerChannel) async {
        switch message {
        case .deviceList(let list):
            let devices = list.devices.map(Self.device)
            let previouslyPending = Set(pendingDevices().map(\.id))
            do { try replaceDevices(devices, revision: list.revision) } catch {
                logger.error("cannot store the device list: \(error)")
            }
            await deviceListChanged(previouslyPending: previouslyPending)
        case .rosterUpdate(let update):
            await consider(roster: update.roster, from: "the server")
        case .policyUpdate(let update):
            await consider(policy: update.policy, from: "the server")
        case .contactRoster(let roster):
            await consider(contactRoster: roster)
        case .accountLinks(let links):
            let linked = take(links)  // not inside the optional call: a page has no host, and must still take them
            await pageHost?(.links(linked))
        case .forAccount(let wrapped):
            // Something for a linked account's page, on this (the master's) connection.
            do {
                await pageHost?(.message(account: wrapped.account, try Envelope.decode(wrapped.message[...]).message))
            } catch {
                logger.warning("dropped a message for \(wrapped.account) that does not decode: \(error)")
            }
        case .contactList(let list):
            let contacts = list.contacts.map { AgentStore.Contact(account: $0.account, state: $0.state) }
            do {
                if try store.replaceContacts(contacts, revision: list.revision) { publish(AgentEvent(event: .contacts)) }
            } catch {
                logger.error("cannot store the contact list: \(error)")
            }
        case .contactDevices(let list):
            let before = Dictionary(((try? store.contactDevices(account: list.account)) ?? []).map { ($0.id, $0.online) },
                                    uniquingKeysWith: { first, _ in first })
            var newer = false
            do {
                newer = try store.replaceContactDevices(account: list.account, list.devices.map(Self.device), revision: list.revision)
            } catch {
                logger.error("cannot store the devices of \(list.account): \(error)")
            }
            // A contact's device that came online, or went offline: what a contact list redraws.
            for device in list.devices where newer && before[device.deviceID] != device.online
                && (before[device.deviceID] != nil || device.online) {
                publish(AgentEvent(event: .presence, from: device.deviceID, contact: list.account, state: device.online ? "online" : "offline"))
            }
            Task { await self.flushOutbox() }  // copies may have waited for these keys
        case .relayDeliver(let deliver):
            await receive(deliver, session: session, connection: connection)
        case .transitOffer(let offer):
            acceptTransit(offer)
        default:
            logger.debug("ignoring \(message.type) from the server")
        }
    }

    /// Commits a note or a viewed-notice from another device of the account, whichever path it came by.
    func commitFromSibling(_ message: Message, from device: String) throws {
        switch message {
        case .note(let note):
            let fresh = try store.storeIncoming(noteID: note.id, from: device, text: note.text,
                                                sentAtMillis: note.sentAtMillis, receivedAtMillis: now())
            if fresh {
                logger.info("note from \(device)")
                publish(AgentEvent(event: .note, from: device))
            }
        case .viewed(let notice):
            try apply(notice, from: device)
        default:
            break
        }
    }

    /// The account's device list as stored (from the cache while nothing changed it).
    func storedDevices() throws -> [AgentStore.Device] {
        if let devicesCache { return devicesCache }
        let devices = try store.devices()
        devicesCache = devices
        return devices
    }

    func replaceDevices(_ devices: [AgentStore.Device], revision: UInt64) throws {
        (devicesCache, siblingsCache) = (nil, nil)
        try store.replaceDevices(devices, revision: revision)
    }

    /// Every device shown offline: the agent lost the server and no longer knows.
    func markOffline() {
        (devicesCache, siblingsCache) = (nil, nil)
        try? store.markAllOffline()
    }

    /// The approved siblings, from the cache while neither the device list nor the roster changed.
    func cachedSiblings(_ compute: () -> [AgentStore.Device]) -> [AgentStore.Device] {
        if let siblingsCache { return siblingsCache }
        let siblings = compute()
        siblingsCache = siblings
        return siblings
    }

    func isContact(_ account: String) throws -> Bool {
        try store.contacts().contains { $0.account == account && $0.state == .contact }
    }

    static func device(_ info: DeviceInfo) -> AgentStore.Device {
        AgentStore.Device(id: info.deviceID, name: info.name, terminalType: info.terminalType, key: info.key,
                          online: info.online, lastSeenMillis: info.lastSeenMillis, clientVersion: info.clientVersion,
                          addresses: info.addresses, publicAddresses: info.publicAddresses)
    }

    /// Opens a relayed payload, commits what it carries, then acknowledges it: acknowledged means
    /// stored. Who may send what is `Intake`'s table; this carries its answers out.
    private func receive(_ deliver: RelayDeliver, session: AgentStore.Session, connection: any ServerChannel) async {
        let (sender, key) = classify(deliver.from, account: deliver.fromAccount, session: session)
        switch Intake.admit(sender) {
        case .open: break
        case .wait(let reason):
            logger.warning("relayed payload from \(deliver.from), \(reason)")
            return
        case .drop(let reason):
            if sender == .unapprovedContactDevice { refusedFromContacts += 1 }
            logger.notice("dropped a relayed payload from \(deliver.from): \(reason)")
            try? await connection.send(.relayAck(.init(relayID: deliver.relayID)))
            return
        }
        do {
            guard let key = key?.noisePublicKey else { throw WireError.malformed("the sender's key has no X25519 form") }
            let envelope = try RelayedMessage.open(deliver.payload, from: deliver.from, to: session.deviceID,
                                                   receiverKeys: identity.noiseKeyPair, senderKey: key)
            switch Intake.handle(Intake.Kind(envelope.message), from: sender, via: deliver.code == nil ? .relay : .relayWithCode) {
            case .contactMessage:
                guard case .chat(let chat) = envelope.message, let code = deliver.code else { break }
                try receive(chat, code: code, from: deliver.from, account: deliver.fromAccount)
            case .siblingItem:
                try commitFromSibling(envelope.message, from: deliver.from)
            case .siblingDocument, .approveRequest:
                await receiveFromSibling(envelope.message, from: deliver.from)
            case .drop(let reason):
                logger.notice("dropped a relayed \(envelope.message.type) from \(deliver.from): \(reason)")
            }
        } catch let error as WireError {
            logger.warning("dropped a relayed payload from \(deliver.from): \(error)")
        } catch {
            logger.error("cannot store a payload from \(deliver.from): \(error); it will come again")
            return  // not acknowledged: the server delivers it again
        }
        try? await connection.send(.relayAck(.init(relayID: deliver.relayID)))
    }

    /// Who `deviceID` is to this device (`Intake.Sender`), and the key its payloads open with:
    /// a sibling's from the device list once the roster approves it, a contact's device's from
    /// the contact's roster.
    /// `account`: the account the sender acted for (`RelayDeliver.fromAccount`), when it is not
    /// the one in its id (a master's device writing from a linked account's page).
    func classify(_ deviceID: String, account acting: String? = nil, session: AgentStore.Session) -> (Intake.Sender, SigningPublicKey?) {
        if let sibling = (try? storedDevices())?.first(where: { $0.id == deviceID }) {
            return isApprovedSibling(deviceID) ? (.approvedSibling, SigningPublicKey(rawValue: sibling.key)) : (.unapprovedSibling, nil)
        }
        let account = acting ?? String(ReadState.account(ofDevice: deviceID))
        if account == session.account { return (.unknownSibling, nil) }
        guard (try? isContact(account)) == true else { return (.stranger, nil) }
        let key = approvedContactKey(deviceID, of: account)
        return (key == nil ? .unapprovedContactDevice : .approvedContactDevice, key)
    }

    // MARK: - The outbox

    /// Sends the outbox: each receiver's items in order, one at a time, each waiting for its
    /// receiver's Ack on a direct path, or for the server's answer (the server committed it),
    /// before it is marked sent; different receivers in parallel, so a notice to one sibling does
    /// not wait on another's. Notes and notices to a sibling with a direct path go there first
    /// (also while the server is away); messages to contacts go through the server, which gives
    /// them their code. An item that cannot go now holds back the later ones to its receiver only.
    func flushOutbox() async {
        guard !flushing else { flushAgain = true; return }
        flushing = true
        defer { flushing = false }
        repeat {
            flushAgain = false
            guard let me = (try? store.session())??.deviceID else { return }
            let queues = (try? store.pendingOutgoingByReceiver(limit: 64)) ?? [:]
            let more = await withTaskGroup(of: Bool.self) { group in
                for queue in queues.values {
                    // A full page that all went out: there may be more for that receiver.
                    group.addTask { await self.flush(queue, from: me) && queue.count == 64 }
                }
                var any = false
                for await full in group { any = any || full }
                return any
            }
            if more { flushAgain = true }
        } while flushAgain
        scheduleRefusalRetry()
    }

    private func scheduleRefusalRetry() {
        guard !serverRefusals.isEmpty else {
            refusalBackoff.reset()
            return
        }
        guard refusalRetry == nil else { return }
        let delay = refusalBackoff.nextDelayMillis { Double.random(in: 0...1) }
        refusalRetry = Task { [weak self] in
            try? await Task.sleep(for: .milliseconds(delay))
            guard !Task.isCancelled else { return }
            await self?.retryRefused()
        }
    }

    private func retryRefused() async {
        refusalRetry = nil
        await flushOutbox()
    }

    /// Sends one receiver's items in order; false when one could not go (the rest wait). The
    /// route and what an answer means are `OutboxPolicy`'s; this carries them out.
    private func flush(_ items: [AgentStore.OutboxItem], from me: String) async -> Bool {
        for item in items {
            let (receiver, key) = await outboxReceiver(of: item)
            let route = OutboxPolicy.route(Self.policyItem(item.kind), to: receiver)
            switch route {
            case .wait(let reason):
                logger.warning("a \(item.kind) to \(item.receiver) waits: \(reason)")
                return false
            case .drop(let reason):
                logger.notice("dropped a \(item.kind) to \(item.receiver): \(reason)")
                try? store.markFailed(seq: item.seq, reason: "\(item.receiver): \(reason)")
                continue
            case .directThenServer:
                if let directPaths = directPaths, let message = directMessage(item), await directPaths.deliver(message, to: item.receiver) {
                    try? store.markSent(item)
                    sentDirect += 1
                    continue
                }
            case .server:
                break
            }
            guard let connection, !connection.isClosed, let key = key?.noisePublicKey else { return false }
            do {
                let answer = try await connection.request(try outgoingRequest(for: item, from: me, key: key)).message
                switch OutboxPolicy.outcome(of: answer) {
                case .delivered(let code):
                    try store.markSent(item, code: code)
                    sentThroughServer += 1
                    serverRefusals[item.receiver] = nil
                case .refused(let reason):
                    // Final: the receiver is gone or no longer a contact. Drop it, keep going.
                    logger.error("the server refused a \(item.kind) to \(item.receiver) for good: \(reason)")
                    try store.markFailed(seq: item.seq, reason: reason)
                case .retryLater(let reason):
                    logger.error("the server refused a \(item.kind) to \(item.receiver): \(reason)")
                    serverRefusals[item.receiver] = reason
                    return false
                }
            } catch {
                logger.notice("outbox paused: \(error)")
                return false
            }
        }
        return true
    }

    /// What this device knows of an item's receiver, and the key to seal for it: a device's key
    /// comes from the roster its primary signed (a sibling's from this account's, a contact's
    /// from the contact's), never from the server's list alone.
    private func outboxReceiver(of item: AgentStore.OutboxItem) async -> (OutboxPolicy.Receiver, SigningPublicKey?) {
        // A sibling is whoever the held roster approves, a linked device of the master's included.
        if let sibling = approvedSiblings().first(where: { $0.id == item.receiver }) {
            let direct = await directPaths?.isDirect(item.receiver) ?? false
            return (.approvedSibling(directPath: direct), SigningPublicKey(rawValue: sibling.key))
        }
        let account = item.toAccount ?? String(ReadState.account(ofDevice: item.receiver))
        if account == rosterBook?.account { return (.unapprovedSibling, nil) }
        guard (try? isContact(account)) == true else { return (.notAContact, nil) }
        guard let book = contactBooks[account], book.maySend else { return (.contactDevice(.held), nil) }
        guard let member = book.member(item.receiver) else { return (.contactDevice(.notInRoster), nil) }
        return (.contactDevice(.approved), member.key)
    }

    private static func policyItem(_ kind: AgentStore.OutboxItem.Kind) -> OutboxPolicy.Item {
        switch kind {
        case .note: .note
        case .viewed: .viewed
        case .chat: .chat
        }
    }

    /// What a direct path carries for `item` (the envelope inside, without relay sealing).
    private func directMessage(_ item: AgentStore.OutboxItem) -> Message? {
        switch item.kind {
        case .note: .note(.init(id: item.itemID ?? [], sentAtMillis: item.sentAtMillis, text: item.text))
        case .viewed: (try? Envelope.decode((item.body ?? [])[...]))?.message
        case .chat: nil
        }
    }

    /// The request that carries `item` through the server, sealed for its receiver's key.
    private func outgoingRequest(for item: AgentStore.OutboxItem, from deviceID: String, key: PublicKey) throws -> Message {
        let envelope: Envelope
        switch item.kind {
        case .note: envelope = Envelope(.note(.init(id: item.itemID ?? [], sentAtMillis: item.sentAtMillis, text: item.text)))
        case .chat: envelope = Envelope(.chat(.init(id: item.itemID ?? [], sentAtMillis: item.sentAtMillis, text: item.text)))
        case .viewed: envelope = try Envelope.decode((item.body ?? [])[...])
        }
        let payload = try RelayedMessage.seal(envelope, from: deviceID, to: item.receiver, senderKeys: identity.noiseKeyPair,
                                              receiverKey: key)
        if item.kind == .chat {
            return .chatSend(.init(to: item.receiver, messageID: item.itemID ?? [], payload: payload, toAccount: item.toAccount))
        }
        return .relaySend(.init(to: item.receiver, payload: payload))
    }

    static func describe(_ message: Message) -> String {
        if case .errorMessage(let error) = message {
            return error.message ?? "error \(error.code)"
        }
        return "unexpected \(message.type)"
    }
}
