import KithCore
import KithCrypto
import KithStore
import KithWire
import Logging
import NIOCore

/// One agent's connection: answers its requests in order, per spec §Sessions and §Relay.
/// Everything a request changes is committed to the store before its answer is written.
struct ServerSession {
    let connectionID: UInt64
    let address: String
    let outbound: NIOAsyncChannelOutboundWriter<Envelope>
    /// The connection's channel, which the device's `SessionOutbox` writes to.
    let channel: any Channel
    let close: @Sendable () -> Void
    let server: ServerContext
    var peerKey: PublicKey?
    var device: DeviceRecord?
    var tokenHash: [UInt8]?
    /// The account of a watch session (spec §Watch sessions): set by `WatchLogin` or `WatchResume`.
    var watching: String?

    var logger: Logger { server.logger }

    mutating func handle(_ envelope: Envelope) async throws {
        let answer: Message?
        let kind: ServerRules.SessionKind = device != nil ? .device : watching != nil ? .watcher : .none
        switch ServerRules.admission(of: envelope.message.type, session: kind) {
        case .admitted: answer = await self.answer(envelope.message)
        case .ignored: answer = nil
        case .refused(let code, let reason): answer = Self.error(code, reason)
        }
        if let answer { try await outbound.write(Envelope(requestID: envelope.requestID, answer)) }
        if case .loginResult = answer, let device {
            await server.relays.deleteAcknowledged()
            var linked: [(account: String, documents: [Envelope])] = []
            for account in (try? server.store.linkedAccounts(of: device.account)) ?? [] {
                linked.append((account, [Self.links(of: account, in: server.store)] + (await server.rosters.documents(account: account))))
            }
            let outbox = SessionOutbox(deviceID: device.id, channel: channel, store: server.store, reads: server.storeReads, logger: logger)
            await server.presence.goOnline(deviceID: device.id, account: device.account, connectionID: connectionID,
                                           address: address, outbox: outbox, close: close,
                                           documents: [Self.links(of: device.account, in: server.store)]
                                               + (await server.rosters.documents(account: device.account)),
                                           linked: linked)
            await server.watchers.presenceChanged(of: device.account)
        }
    }

    /// Handles a message `ServerRules.admission` admitted; nil when it has no answer. `caller` is
    /// the device as it acts for a linked account (`ForAccount`); nil: as itself.
    mutating func answer(_ message: Message, as caller: DeviceRecord? = nil) async -> Message? {
        var loggedIn: DeviceRecord { caller ?? self.loggedIn }
        switch message {
        case .hello:
            return .hello(.init(protocolVersion: KithVersion.protocolVersion, software: KithVersion.userAgent))
        case .ping(let ping):
            return .pong(.init(nonce: ping.nonce))
        case .signup(let signup):
            return await self.signup(signup)
        case .login(let login):
            return await self.login(login)
        case .resume(let resume):
            return await self.resume(resume)
        case .logout:
            return await logout(loggedIn)
        case .relaySend(let relay):
            return await relaySend(relay, from: loggedIn)
        case .relayAck(let ack):
            server.relays.acknowledged(id: Int64(clamping: ack.relayID), to: loggedIn.id)
            return nil
        case .chatSend(let chat):
            return await chatSend(chat, from: loggedIn)
        case .endpoints(let endpoints):
            return await self.endpoints(endpoints, from: loggedIn)
        case .contactRequest(let request):
            return await contactRequest(request.account, from: loggedIn)
        case .contactAccept(let accept):
            return await contactAccept(accept.account, from: loggedIn)
        case .contactRemove(let remove):
            return await contactRemove(remove.account, from: loggedIn)
        case .transitRequest(let request):
            return await transitRequest(request, from: loggedIn)
        case .rosterPublish(let request):
            return await publish(roster: request.roster, from: loggedIn)
        case .policyPublish(let request):
            return await publish(policy: request.policy, from: loggedIn)
        case .revoke(let revoke):
            return await self.revoke(revoke.deviceID, from: loggedIn)
        case .accountLink(let link):
            return await self.link(link, from: loggedIn)
        case .accountUnlink(let unlink):
            return await self.unlink(unlink.account, from: loggedIn)
        case .forAccount(let wrapped):
            return await forAccount(wrapped, from: loggedIn)
        case .accountSetMaster(let request):
            return await setMaster(request, from: loggedIn)
        case .watchLogin(let request):
            return await watchLogin(request)
        case .watchResume(let request):
            return watchResume(request.token)
        case .watchSubscribe(let request):
            return await watchSubscribe(request)
        case .unreadReport(let report):
            return await unreadReport(report, from: loggedIn)
        case .pong, .ack, .errorMessage, .note, .chat, .viewed, .loginResult, .deviceList, .relayDeliver, .contactList,
             .contactDevices, .chatAccepted, .fileOffer, .fileAnswer, .fileData, .fileEnd, .fileProgress, .fileCancel,
             .transitTicket, .transitOffer, .documentShare, .approveRequest, .rosterUpdate, .policyUpdate, .contactRoster,
             .accountLinks, .watchSession, .watchState:
            preconditionFailure("ServerRules.admission admitted \(message.type), which is no request to the server")
        }
    }

    /// The session's device, for a request that `ServerRules.admission` admits only once the
    /// session has logged in or resumed.
    private var loggedIn: DeviceRecord {
        guard let device else { preconditionFailure("ServerRules.admission admitted a request before a login") }
        return device
    }

    /// The connection ended, for whatever reason.
    func ended() async {
        if let device {
            await server.presence.goOffline(deviceID: device.id, connectionID: connectionID)
            await server.watchers.presenceChanged(of: device.account)
        }
        if watching != nil { await server.watchers.leave(connectionID: connectionID) }
    }

    // MARK: - Requests

    private func signup(_ request: Signup) async -> Message {
        guard server.configuration.openSignup else {
            return Self.error(.forbidden, "this server does not accept sign-ups; ask its operator for an account")
        }
        if let problem = AccountRules.problem(withName: request.account) ?? AccountRules.problem(withPassword: request.password) {
            return Self.error(.malformed, problem)
        }
        do {
            let hash = try await server.passwords.hash(request.password, cost: server.configuration.passwordCost)
            try server.store.createAccount(name: request.account, passwordHash: hash, now: server.now())
            logger.info("account \(request.account) signed up from \(address)")
            return .ack(.init())
        } catch StoreError.conflict {
            return Self.error(.conflict, "the account name \(request.account) is taken")
        } catch is PasswordChecker.Busy {
            return Self.busy
        } catch {
            logger.error("sign-up failed: \(error)")
            return Self.error(.internalError, "the server could not create the account")
        }
    }

    /// The password checks of a login (spec §Sessions, steps 2–3), which a link repeats
    /// (Protocol/links.md §Links): the rate limits, then argon2id; an unknown account costs the
    /// same work as a wrong password and gets the same answer. Nil when the password is right.
    func passwordRefusal(account: String, password: String, for what: String, now: UInt64) async -> Message? {
        let attempt: LoginLimits.Attempt
        switch await server.loginGuard.begin(account: account, address: address, now: now) {
        case .wait(let millis):
            return .errorMessage(.init(code: ErrorCode.rateLimited.rawValue, message: "too many failed logins",
                                       retryAfterMillis: UInt32(clamping: millis)))
        case .check(let started):
            attempt = started
        }
        let stored = try? server.store.passwordHash(account: account)
        let verified: Bool
        do {
            verified = try await server.passwords.verify(password, against: stored)
        } catch {
            // Not checked (too many waiting): no failure of the password's, so its count goes back.
            await server.loginGuard.withdraw(attempt)
            return Self.busy
        }
        guard verified else {
            await server.loginGuard.failed(attempt)
            logger.notice("failed \(what) for \(account) from \(address)")
            return Self.error(.unauthenticated, "wrong account or password")
        }
        await server.loginGuard.succeeded(attempt)
        return nil
    }

    /// The answer when too many password checks wait already.
    static let busy = Message.errorMessage(.init(code: ErrorCode.rateLimited.rawValue,
                                                 message: "the server is busy checking passwords; try again shortly",
                                                 retryAfterMillis: 1000))

    private mutating func login(_ request: Login) async -> Message {
        let now = server.now()
        guard let key = SigningPublicKey(rawValue: request.deviceKey), let noiseKey = key.noisePublicKey,
              noiseKey == peerKey
        else {
            return Self.error(.unauthenticated, "the device key is not the key of this connection")
        }
        if let refusal = await passwordRefusal(account: request.account, password: request.password, for: "login", now: now) {
            return refusal
        }
        guard let typeCode = request.terminalType.code else {
            return Self.error(.malformed, "terminal type \(request.terminalType.rawValue) is not 1…5")
        }
        do {
            let device = try server.store.registerDevice(DeviceRegistration(
                account: request.account, terminalType: request.terminalType, typeCode: typeCode, name: request.deviceName,
                key: request.deviceKey, clientVersion: request.clientVersion, addresses: request.addresses), now: now)
            let token = secureRandomBytes(32)
            let hash = Self.hash(token)
            let expires = now + server.configuration.tokenLifetimeMillis
            try server.store.createSession(tokenHash: hash, deviceID: device.id, expiresAtMillis: expires)
            self.device = device
            self.tokenHash = hash
            logger.info("\(device.id) logged in from \(address)")
            return .loginResult(.init(account: device.account, deviceID: device.id, token: token, expiresAtMillis: expires,
                                      instances: server.instances.alive))
        } catch StoreError.conflict {
            return Self.error(.forbidden, "this device key belongs to another account")
        } catch StoreError.revoked(let id) {
            logger.notice("refused the login of \(id), which was revoked, from \(address)")
            return Self.error(.forbidden, "this device (\(id)) was revoked from the account; it needs a new identity to join again")
        } catch {
            logger.error("login failed: \(error)")
            return Self.error(.internalError, "the server could not record the login")
        }
    }

    private mutating func resume(_ request: Resume) async -> Message {
        let hash = Self.hash(request.token)
        guard let session = try? server.store.session(tokenHash: hash), !session.revoked,
              session.expiresAtMillis > server.now(),
              let device = try? server.store.device(id: session.deviceID),
              SigningPublicKey(rawValue: device.key)?.noisePublicKey == peerKey
        else {
            return Self.error(.sessionExpired, "the session is over; log in again")
        }
        self.device = device
        self.tokenHash = hash
        return .loginResult(.init(account: device.account, deviceID: device.id, token: request.token,
                                  expiresAtMillis: session.expiresAtMillis, instances: server.instances.alive))
    }

    private mutating func logout(_ device: DeviceRecord) async -> Message {
        guard let tokenHash else { return Self.error(.unauthenticated, "not logged in") }
        try? server.store.revokeSession(tokenHash: tokenHash)
        await server.presence.goOffline(deviceID: device.id, connectionID: connectionID)
        logger.info("\(device.id) logged out")
        self.device = nil
        self.tokenHash = nil
        return .ack(.init())
    }

    private func relaySend(_ request: RelaySend, from device: DeviceRecord) async -> Message {
        var check = server.relayCheck(request, from: device, linkedInto: nil)
        if case .needsLinks(let target) = check {
            let linkedInto = await server.presence.linkedMembers(of: device.account).contains { $0.id == target.id }
            check = server.relayCheck(request, from: device, linkedInto: linkedInto)
        }
        switch check {
        case .refused(let answer): return answer
        case .needsLinks: preconditionFailure("relayCheck asked about links although it was told")
        case .commit(let item): return await commitRelay(item)
        }
    }

    /// Hands `item` to the committer and answers when it is done with it.
    private func commitRelay(_ item: RelayItem) async -> Message {
        let result = await withCheckedContinuation { continuation in server.relays.commit(item) { continuation.resume(returning: $0) } }
        return server.relayAnswer(result, to: item.to)
    }

    /// A relayed device stream to another online device of the account (spec §Transit).
    private func transitRequest(_ request: TransitRequest, from device: DeviceRecord) async -> Message {
        let target = try? server.store.device(id: request.to)
        if case .refused(let code, let reason) = ServerRules.transit(from: .init(device), to: request.to,
                                                                      targetAccount: target?.account) {
            return Self.error(code, reason)
        }
        let ticket = server.transit.issue()
        if await server.presence.sendIfOnline(Envelope(.transitOffer(.init(from: device.id, ticket: ticket))), to: request.to) {
            return .transitTicket(.init(ticket: ticket))
        }
        // Online on another instance: that one passes the offer on, naming this one, which holds the ticket.
        if let here = server.instances.here, let target,
           await server.presence.offerElsewhere(TransitNotice(to: request.to, from: device.id, ticket: ticket, at: here), to: target) {
            return .transitTicket(.init(ticket: ticket))
        }
        return Self.error(.notFound, "\(request.to) is not online")
    }

    /// Stores the device's UDP candidates and tells its siblings (spec §Endpoints).
    private func endpoints(_ request: Endpoints, from device: DeviceRecord) async -> Message {
        let all = request.addresses + request.publicAddresses
        guard all.allSatisfy({ (try? HostPort(parsing: $0)) != nil }) else {
            return Self.error(.malformed, "an address is not HOST:PORT")
        }
        do {
            try server.store.updateAddresses(deviceID: device.id, addresses: request.addresses,
                                             publicAddresses: request.publicAddresses)
        } catch {
            logger.error("endpoints of \(device.id) not stored: \(error)")
            return Self.error(.internalError, "the server could not store the addresses")
        }
        await server.presence.pushDeviceList(account: device.account)
        return .ack(.init())
    }

    // MARK: - Rosters and policies (Protocol/roster.md §Distribution, §Revoke)

    /// A stored roster also goes to the contacts' devices (roster.md §Contacts' rosters): they
    /// trust the account's devices only as its roster chain names them.
    private func publish(roster document: SignedDocument, from device: DeviceRecord) async -> Message {
        let answer = await publish(document, from: device, as: Envelope(.rosterUpdate(.init(roster: document)))) { keeper throws(RosterKeeper.Refusal) in
            try await keeper.publish(roster: document, from: device)
        }
        if answer == .ack(.init()) {
            await server.presence.broadcastToContacts(Envelope(.contactRoster(.init(account: device.account, roster: document))),
                                                      of: device.account)
            // A master's device this roster signs in starts holding the account (links.md).
            let masters = await server.presence.masterDevices(of: device.account)
            if !masters.isEmpty {
                let documents = [Self.links(of: device.account, in: server.store)] + (await server.rosters.documents(account: device.account))
                for master in masters {
                    await server.presence.join(deviceID: master.id, linkedAccount: device.account, documents: documents)
                }
            }
        }
        return answer
    }

    private func publish(policy document: SignedDocument, from device: DeviceRecord) async -> Message {
        await publish(document, from: device, as: Envelope(.policyUpdate(.init(policy: document)))) { keeper throws(RosterKeeper.Refusal) in
            try await keeper.publish(policy: document, from: device)
        }
    }

    /// Stores a document through the keeper, then sends it to every online device of the account.
    private func publish(_ document: SignedDocument, from device: DeviceRecord, as update: Envelope,
                         _ store: (RosterKeeper) async throws(RosterKeeper.Refusal) -> Void) async -> Message {
        do throws(RosterKeeper.Refusal) {
            try await store(server.rosters)
        } catch {
            return Self.error(error)
        }
        await server.presence.broadcast(update, account: device.account)
        return .ack(.init())
    }

    private func revoke(_ deviceID: String, from device: DeviceRecord) async -> Message {
        let target = try? server.store.device(id: deviceID)
        do throws(RosterKeeper.Refusal) {
            try await server.rosters.mayRevoke(deviceID, targetAccount: target?.account, caller: device)
        } catch {
            return Self.error(error)
        }
        do {
            try server.store.revokeDevice(id: deviceID)
        } catch {
            logger.error("revocation of \(deviceID) failed: \(error)")
            return Self.error(.internalError, "the server could not revoke the device")
        }
        logger.info("\(device.id) revoked \(deviceID)")
        await server.presence.cutOff(deviceID: deviceID, account: device.account)
        return .ack(.init())
    }

    static func error(_ refusal: RosterKeeper.Refusal) -> Message {
        error(refusal.code, refusal.reason)
    }

    // MARK: - Contacts and messages between people (spec §Contacts, §Messages between people)

    private func contactRequest(_ other: String, from device: DeviceRecord) async -> Message {
        let records = (try? server.store.contacts(account: device.account).count) ?? 0
        if case .refused(let code, let reason) = ServerRules.contactRequest(from: .init(device), to: other, records: records,
                                                                             limit: ContactRecord.maxPerAccount) {
            return Self.error(code, reason)
        }
        do {
            let state = try server.store.requestContact(from: device.account, to: other, now: server.now())
            logger.info("\(device.account) asked \(other) to be a contact (now \(state))")
        } catch StoreError.notFound {
            return Self.error(.notFound, "there is no account \(other)")
        } catch StoreError.conflict(let why) {
            return Self.error(.forbidden, why)
        } catch {
            logger.error("contact request failed: \(error)")
            return Self.error(.internalError, "the server could not record the request")
        }
        await pushContacts(device.account, other)
        return .ack(.init())
    }

    private func contactAccept(_ requester: String, from device: DeviceRecord) async -> Message {
        await contactChange(with: requester, from: device, notFound: "\(requester) has not asked to be your contact") { account in
            try server.store.acceptContact(account: account, requester: requester)
        }
    }

    private func contactRemove(_ other: String, from device: DeviceRecord) async -> Message {
        await contactChange(with: other, from: device, notFound: "") { account in try server.store.removeContact(account, other) }
    }

    /// Runs a change of the caller's contact with `other`, then pushes both accounts' lists.
    private func contactChange(with other: String, from device: DeviceRecord, notFound: String,
                               _ change: (String) throws -> Void) async -> Message {
        do {
            try change(device.account)
        } catch StoreError.notFound {
            return Self.error(.notFound, notFound)
        } catch {
            logger.error("contact change failed: \(error)")
            return Self.error(.internalError, "the server could not record the change")
        }
        await pushContacts(device.account, other)
        return .ack(.init())
    }

    private func pushContacts(_ accounts: String...) async {
        for account in accounts { await server.presence.pushContacts(account: account) }
    }

    private func chatSend(_ request: ChatSend, from device: DeviceRecord) async -> Message {
        let target = try? server.store.device(id: request.to)
        // A copy for a master's device that the contact's roster lists goes to it for that contact.
        var scope: String?
        if let toAccount = request.toAccount, toAccount != target?.account,
           (await server.presence.linkedMembers(of: toAccount)).contains(where: { $0.id == request.to }) {
            scope = toAccount
        }
        let contacts = (try? server.store.contacts(account: device.account)) ?? []
        let accepted = Set(contacts.filter { $0.state == .contact }.map(\.account))
        if case .refused(let code, let reason) = ServerRules.chat(from: .init(device), to: request.to,
                                                                   targetAccount: scope ?? target?.account, contacts: accepted) {
            return Self.error(code, reason)
        }
        if let refusal = server.unapproved(device) { return refusal }
        do {
            let code = try server.store.messageCode(sender: device.id, messageID: request.messageID, now: server.now())
            let item = RelayItem(from: device.id, to: request.to, payload: request.payload, code: code, scope: scope,
                                 fromAccount: Self.actingAccount(device))
            let answer = await commitRelay(item)
            guard answer == .ack(.init()) else { return answer }
            if let receiver = scope ?? target?.account {
                let sender = Self.actingAccount(device) ?? device.account
                try server.store.recordWatchedMessage(account: receiver, contact: sender, code: code)
                await server.watchers.unreadChanged(account: receiver, contact: sender)
            }
            return .chatAccepted(.init(code: UInt64(code)))
        } catch {
            logger.error("message enqueue failed: \(error)")
            return Self.error(.internalError, "the server could not store the message")
        }
    }

    // MARK: - Helpers

    static func error(_ code: ErrorCode, _ message: String) -> Message {
        .errorMessage(.init(code: code.rawValue, message: message))
    }

    /// Tokens are kept only as BLAKE2b-256 hashes (spec §Sessions).
    static func hash(_ token: [UInt8]) -> [UInt8] { TokenHash.of(token) }
}

extension ServerRules.Caller {
    /// A logged-in device as the rules see it. Its key parses: login and resume both checked it
    /// against the channel's key.
    init(_ device: DeviceRecord) {
        self.init(deviceID: device.id, account: device.account, key: SigningPublicKey(rawValue: device.key))
    }
}

/// What every session of one server shares.
struct ServerContext: Sendable {
    let configuration: ServerConfiguration
    let store: any ServerStore
    let presence: Presence
    let loginGuard: LoginGuard
    let passwords: PasswordChecker
    let relays: RelayCommitter
    /// Where the event loops' reads of the store run.
    let storeReads: StoreReads
    /// For a shared store: the relay checks' reads, batched off the event loops.
    let batchedRelayChecks: BatchedRelayChecks?
    let transit: TransitBroker
    let instances: InstanceDirectory
    let rosters: RosterKeeper
    let watchers: Watchers
    let logger: Logger
    var now: @Sendable () -> UInt64 { configuration.now }
}
