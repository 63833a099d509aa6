import Foundation
import KithAPI
import KithCore
import KithCrypto
import KithStore
import KithWire

/// The local API's methods (Protocol/local-api.md).
extension AccountContext {
    /// This account in `status`'s list.
    func summary() -> AccountSummary {
        let session = try? store.session()
        let owner = store.owner
        return AccountSummary(account: session?.account ?? String(owner.split(separator: "@").first ?? ""), owner: owner,
                              server: session?.invite ?? (try? store.invite()) ?? nil, deviceID: session?.deviceID,
                              connected: connection != nil && connectedSession != nil,
                              role: session == nil ? nil : rosterRole, lastError: lastError)
    }

    func status() -> StatusResult {
        let session = try? store.session()
        return StatusResult(
            profile: profile, agentVersion: KithVersion.software, pid: ProcessInfo.processInfo.processIdentifier,
            fingerprint: identity.publicKey.fingerprint.description, server: session?.invite ?? (try? store.invite()) ?? nil,
            connected: connection != nil && connectedSession != nil, instance: connectedAddress?.description,
            account: session?.account, deviceID: session?.deviceID,
            sessionExpiresAtMillis: session?.expiresAtMillis, pendingNotes: (try? store.pendingOutgoingCount()) ?? 0,
            heldNotices: (try? store.heldNoticeCount()) ?? 0, sentDirect: sentDirect, sentThroughServer: sentThroughServer,
            lastError: lastError, role: session == nil ? nil : rosterRole, roster: rosterBook?.current?.label,
            primary: rosterBook?.current?.primary.deviceID, refusedFromContacts: refusedFromContacts)
    }

    func login(_ params: LoginRequest) async throws -> LoginResultAPI {
        let (invite, account, password) = (params.invite, params.account, params.password)
        let type = params.type.flatMap(TerminalType.init(name:)) ?? .pc
        let name = params.name ?? ProcessInfo.processInfo.hostName
        let connection = try await connect(invite: invite)
        defer { Task { await connection.close() } }
        let answer = try await connection.request(.login(.init(
            account: account, password: password, terminalType: type, deviceName: Self.truncated(name, bytes: 64),
            clientVersion: KithVersion.userAgent, deviceKey: identity.publicKey.rawValue, addresses: []))).message
        guard case .loginResult(let result) = answer else {
            throw AgentError(.serverRefused, "the server refused the login: \(Self.describe(answer))")
        }
        // Commit the session before reporting success; the server connection then resumes with the token.
        // The store now reads and writes this account's rows. The held roster stays across a
        // logout or an ended session: taking whatever roster the server offers next would let it
        // pick a primary. Rows a logged-out device kept from before stores had owners are adopted
        // by this login; if their roster is another account's, they start from nothing.
        try store.saveSession(.init(invite: invite, account: result.account, deviceID: result.deviceID,
                                    token: result.token, expiresAtMillis: result.expiresAtMillis,
                                    instances: result.instances))
        if let held = try store.roster(), (try? RosterSigning.roster(in: RosterSigning.decodeDocument(held)))?.account != result.account {
            try store.clearDocuments()
            try store.clearContactRosters()
        }
        loadRosterBooks()
        await transfers?.govern(with: ownPermissions()?.receive)
        var recoveryKey: String?
        if rosterBook?.current == nil {
            recoveryKey = await makeFirstRoster(account: result.account, deviceID: result.deviceID, name: Self.truncated(name, bytes: 64),
                                                on: connection)
        }
        lastError = nil
        // The login's own connection goes before the session resumes on a new one (the server
        // keeps the newest connection of a device; spec §Sessions, One session per device).
        await connection.close()
        await server?.reconnect()
        if settings.lanDiscovery { await startLANDiscovery() }
        logger.info("logged in as \(result.deviceID)")
        return LoginResultAPI(account: result.account, deviceID: result.deviceID, role: rosterRole,
                              fingerprint: identity.publicKey.fingerprint.description, recoveryKey: recoveryKey)
    }

    /// The longest prefix of whole characters that fits in `bytes` UTF-8 bytes.
    static func truncated(_ text: String, bytes: Int) -> String {
        var out = ""
        for character in text {
            guard out.utf8.count + character.utf8.count <= bytes else { break }
            out.append(character)
        }
        return out
    }

    func logout() async throws -> EmptyResult {
        guard let session = try store.session() else { throw AgentError(.notLoggedIn, "this device is not logged in") }
        if let connection, !connection.isClosed {
            _ = try? await connection.request(.logout(.init()), timeout: .seconds(5))
        }
        try store.clearSession()
        await server?.reconnect()  // closes the connection; with no session it waits for a login
        logger.info("logged out of \(session.deviceID)")
        return EmptyResult()
    }

    func devices() async throws -> DevicesResult {
        guard let session = try store.session() else {
            throw AgentError(.notLoggedIn, "this device is not logged in; run `kith login`")
        }
        var devices: [DeviceEntry] = []
        let roster = rosterBook?.current, ownRole = rosterRole
        for device in try storedDevices() {
            let isThisDevice = device.id == session.deviceID
            let mode = await directPaths?.mode(of: device.id)
            var entry = Self.entry(device, path: isThisDevice ? "self" : Self.pathName(mode), isThisDevice: isThisDevice)
            // A role counts only for the key the roster lists: a device the server lists with another key is pending.
            let key = SigningPublicKey(rawValue: device.key)
            let member = roster?.members.first { $0.deviceID == device.id && $0.key == key }
            let status = DeviceStatus.derive(.init(
                isThisDevice: isThisDevice, serverSaysOnline: device.online, path: entry.path, rosterRole: member?.role.description,
                isRosterPrimary: roster.map { $0.primary.deviceID == device.id && $0.primary.key == key } ?? false,
                rosterHeld: roster != nil, thisDeviceRole: ownRole))
            entry.online = status.online
            entry.role = status.role
            if !isThisDevice {
                entry.rttMillis = await directPaths?.rtt(of: device.id)
                entry.pathDetail = switch mode {
                case .relay(let reason)?: reason
                case .probing?: "probing its addresses for a direct path"
                case .direct(let candidate)?: "directly to \(candidate.address)"
                case nil: settings.udp == nil ? "direct paths are off (--udp off)" : "no UDP address known for the device"
                }
            }
            devices.append(entry)
        }
        return DevicesResult(account: session.account, devices: devices)
    }

    static func entry(_ device: AgentStore.Device, path: String, isThisDevice: Bool) -> DeviceEntry {
        let type = switch device.terminalType {
        case .unknown(let value): "type \(value)"
        case .pc, .mobile, .tv, .web, .server: device.terminalType.description
        }
        return DeviceEntry(id: device.id, name: device.name, type: type,
                           online: device.online, lastSeenMillis: device.lastSeenMillis,
                           fingerprint: SigningPublicKey(rawValue: device.key)?.fingerprint.description ?? "?",
                           path: path, clientVersion: device.clientVersion, isThisDevice: isThisDevice, rttMillis: nil,
                           pathDetail: nil)
    }

    /// `kith login` with no arguments: connect now unless connected (a backoff sleep ends early).
    func signInNow() async {
        if connection == nil, (try? store.session()) != nil { await server?.reconnect() }
    }

    /// A note to another device of the account (`to` is its id), or a message to a contact: to
    /// every device of its account (`to` is the account) or to one of them (`to` is that device).
    func send(_ params: SendRequest) async throws -> SendResult {
        guard let session = try store.session() else {
            throw AgentError(.notLoggedIn, "this device is not logged in; run `kith login`")
        }
        let (to, text) = (params.to, params.text)
        try MessageText.check(text)
        guard to != session.deviceID else { throw AgentError(.invalidRequest, "that is this device") }
        let id = secureRandomBytes(16), sentAt = now()
        let items: [AgentStore.OutboxItem]
        // A pending device's note waits in its outbox: it is sealed and sent once a roster approves
        // this device and gives it the sibling's key (the server refuses it before: `notApproved`).
        let waitingForApproval = rosterRole == "pending"
        if try storedDevices().contains(where: { $0.id == to }) {
            guard isApprovedSibling(to) || waitingForApproval else {
                throw AgentError(.notPermitted, "\(to) is not approved: approve it on the primary (`kith approve \(to)`)")
            }
            items = [.init(kind: .note, receiver: to, itemID: id, text: text, sentAtMillis: sentAt)]
        } else {
            let account = String(ReadState.account(ofDevice: to))
            guard try isContact(account) else {
                throw AgentError(.unknownDevice, "\(to) is neither a device of \(session.account) nor a contact; see `kith devices` and `kith contacts`")
            }
            // The devices their primary approved, as this device holds the contact's roster; the
            // server's list of their devices is not asked.
            let devices = try sealableDevices(of: account).map(\.deviceID).filter { to == account || $0 == to }
            guard !devices.isEmpty else {
                throw AgentError(.notPermitted, "\(to) is not approved by \(account)'s primary (not in their roster): nothing was sent")
            }
            // A device of the contact's master that their roster lists gets its copy for them (links.md).
            items = devices.map {
                .init(kind: .chat, receiver: $0, itemID: id, text: text, sentAtMillis: sentAt,
                      toAccount: ReadState.account(ofDevice: $0) == account ? nil : account)
            }
        }
        let seqs = try store.enqueue(items)
        await flushOutbox()
        let relayed = try seqs.allSatisfy { try !store.isPending(seq: $0) }
        let isChat = items.first?.kind == .chat
        return SendResult(noteID: id.hexString, to: to, relayed: relayed, devices: isChat ? items.map(\.receiver) : nil,
                          code: isChat && relayed ? try store.sentCode(seq: seqs[0]) : nil,
                          waiting: relayed ? nil : waitingForApproval
                            ? "this device is not approved yet; it goes out once the primary approves it (`kith approve \(session.deviceID)`)"
                            : items.lazy.compactMap { self.serverRefusals[$0.receiver] }.first.map { "the server refused it for now: \($0)" })
    }

    func inbox(_ params: InboxRequest) throws -> InboxResult {
        guard let session = try store.session() else {
            throw AgentError(.notLoggedIn, "this device is not logged in; run `kith login`")
        }
        let limit = params.limit ?? 100
        let notes = params.contact != nil ? [] : try store.incoming(limit: limit).map {
            NoteEntry(noteID: $0.noteID.hexString, from: $0.peer, to: session.deviceID, text: $0.text,
                      sentAtMillis: $0.sentAtMillis, receivedAtMillis: $0.receivedAtMillis)
        }
        return InboxResult(notes: notes, messages: try store.messages(account: params.contact, limit: limit).map(Self.entry),
                           unread: try store.unreadCounts(), network: "kith:\(store.owner)")
    }

    func contacts() throws -> ContactsResult {
        guard try store.session() != nil else { throw AgentError(.notLoggedIn, "this device is not logged in; run `kith login`") }
        let unread = try store.unreadCounts()
        return ContactsResult(contacts: try store.contacts().map { contact in
            let devices = try store.contactDevices(account: contact.account).map { Self.entry($0, path: "relay", isThisDevice: false) }
            let accepted = contact.state == .contact
            let trust = accepted ? (contactBooks[contact.account]?.trust ?? .noRoster) : nil
            var warning: String?
            if case .keyChanged(let wasVerified)? = trust { warning = Self.keyChangedWarning(contact.account, wasVerified: wasVerified) }
            let state = switch contact.state {
            case .contact, .requested, .incoming: contact.state.description
            // A value this version does not define: 0 shows as nothing, any other as incoming (as
            // it always has; the server sends only the three above).
            case .unknown(let value): value == 0 ? "" : ContactState.incoming.description
            }
            return ContactEntry(account: contact.account, state: state,
                                devices: devices, onlineDevices: devices.filter(\.online).count, unread: unread[contact.account] ?? 0,
                                trust: trust?.description, warning: warning,
                                roster: accepted ? contactBooks[contact.account]?.current?.label : nil,
                                approvedDevices: accepted ? contactBooks[contact.account]?.current?.members.map(\.deviceID) : nil)
        })
    }

    /// `contactAdd`, `contactAccept` and `contactRemove`, through the server.
    func contactChange(_ params: some ContactChangeRequest) async throws -> EmptyResult {
        guard let session = try store.session() else {
            throw AgentError(.notLoggedIn, "this device is not logged in; run `kith login`")
        }
        let contact = params.contact
        guard !contact.isEmpty else { throw AgentError(.invalidRequest, "name the contact's account") }
        if let problem = AccountRules.problem(withName: contact) { throw AgentError(.invalidRequest, problem) }
        guard contact != session.account else { throw AgentError(.invalidRequest, "that is your own account") }
        if params is ContactRemoveRequest, try !store.contacts().contains(where: { $0.account == contact }) {
            // The server answers Ack for nothing removed too: say so here instead of "removed".
            throw AgentError(.unknownDevice, "\(contact) is not a contact, nor a request either way: nothing to remove")
        }
        guard let connection, !connection.isClosed else {
            throw AgentError(.serverUnreachable, "the server is not reachable now; contacts change only through it")
        }
        let request: Message = switch params {
        case is ContactAddRequest: .contactRequest(.init(account: contact))
        case is ContactAcceptRequest: .contactAccept(.init(account: contact))
        default: .contactRemove(.init(account: contact))
        }
        let answer = try await connection.request(request, timeout: .seconds(10)).message
        guard answer == .ack(.init()) else {
            if case .errorMessage(let error) = answer, error.code == ErrorCode.notFound.rawValue {
                throw AgentError(.unknownDevice, Self.describe(answer))
            }
            throw AgentError(.serverRefused, Self.describe(answer))
        }
        return EmptyResult()
    }
}
