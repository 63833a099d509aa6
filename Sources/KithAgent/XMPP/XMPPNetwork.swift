import Foundation
import KithAPI
import KithCore
import KithStore
import KithXMPP
import Logging
import NIOCore

/// One XMPP account of the profile, kept signed in: it connects with the stored settings and the
/// roster version it holds, stores the roster the server sends (or keeps its own when the server
/// says it is current), applies roster pushes as they come, and tracks which contacts are online.
/// A connection that ends is tried again with jittered backoff; a failure only the user can mend
/// (a wrong password, an untrusted or changed certificate, a server without TLS) stops it.
actor XMPPNetwork {
    enum State: String {
        case connecting, online, waiting, failed, stopped
    }

    let record: AgentStore.XMPPNetworkRecord
    let account: JID
    private let store: AgentStore
    private let logger: Logger
    private let group: any EventLoopGroup
    private let now: @Sendable () -> UInt64
    private(set) var book: XMPPRosterBook
    private(set) var state = State.connecting
    private var problem: String?
    private var lastLogin: NetworkLogin?
    /// The resources of each contact that said they are available.
    private var online: [JID: Set<String>] = [:]
    private var connection: XMPPConnection?
    private var runner: Task<Void, Never>?

    init(record: AgentStore.XMPPNetworkRecord, store: AgentStore, logger: Logger, group: any EventLoopGroup,
         now: @escaping @Sendable () -> UInt64) throws {
        self.record = record
        account = try JID(parsing: record.jid)
        self.store = store
        var logger = logger
        logger[metadataKey: "network"] = "xmpp:\(record.jid)"
        self.logger = logger
        self.group = group
        self.now = now
        let (rows, version) = try store.xmppRoster(network: record.jid)
        book = XMPPRosterBook(items: rows.compactMap(Self.item), version: version)
    }

    nonisolated var address: String { "xmpp:\(record.jid)" }

    /// Signs in once, for `kith networks add`: the error is the user's answer, nothing is retried.
    static func signIn(_ record: AgentStore.XMPPNetworkRecord, rosterVersion: String?, group: any EventLoopGroup) async throws -> XMPPConnection.Login {
        try await XMPPConnection.connect(host: record.host, port: record.port, account: try JID(parsing: record.jid),
                                         password: record.password, rosterVersion: rosterVersion,
                                         certificate: record.certificate.flatMap(CertificateFingerprint.init), group: group)
    }

    /// Runs the account from here on. `login`, when given, is a sign-in that already succeeded:
    /// its roster is stored and the network is online before this returns.
    func start(with login: XMPPConnection.Login? = nil) throws {
        guard runner == nil else { return }
        if let login { try signedIn(login) }
        runner = Task { await run(first: login) }
    }

    /// `kith login`: a network waiting to try again tries now; one that failed tries again.
    func signInNow() async {
        guard state == .waiting || state == .failed else { return }
        runner?.cancel()
        runner = nil
        state = .connecting
        try? start()
    }

    func stop() async {
        runner?.cancel()
        runner = nil
        state = .stopped
        if let connection { await connection.close() }
        connection = nil
    }

    func entry() -> NetworkEntry {
        NetworkEntry(address: address, kind: "xmpp", state: state.rawValue, problem: problem,
                     server: "\(record.host):\(record.port)", contacts: book.items.count, lastLogin: lastLogin)
    }

    /// Sends a chat message to `peer` and stores it as sent. XMPP says nothing of delivery: the
    /// message is handed to the account's server, which keeps it for a contact who is away.
    func send(to peer: JID, body: String) throws -> AgentStore.XMPPMessage {
        guard state == .online, let connection else {
            throw AgentError(.serverUnreachable, "\(address) is not signed in (\(problem ?? state.rawValue)); nothing was sent")
        }
        // Unique for ever, not per connection: the archive's copy is matched to this one by it.
        let id = UUID().uuidString.lowercased()
        let message = AgentStore.XMPPMessage(network: record.jid, peer: peer.bare.description, outgoing: true, body: body,
                                             stanzaID: id, archiveID: nil, atMillis: now())
        try store.saveXMPPMessage(message)
        connection.send(XMPPStanza.message(to: peer.bare, body: body, id: id))
        return message
    }

    /// Who asked to see this account's presence and waits for the user's answer. Kept in memory:
    /// the server delivers pending requests again at every sign-in (RFC 6121 §3.1.3).
    private(set) var requests: Set<JID> = []

    /// The user's answer to a subscription request: allowed, they see this account's presence and
    /// are asked to share theirs (RFC 6121 §3.1.5, §3.1.1); denied, they are told no (§3.2).
    func answer(request from: JID, allow: Bool) throws {
        guard requests.contains(from.bare) else {
            throw AgentError(.invalidRequest, "xmpp:\(from.bare) has not asked to see \(address)'s presence")
        }
        guard state == .online, let connection else {
            throw AgentError(.serverUnreachable, "\(address) is not signed in (\(problem ?? state.rawValue)); nothing was answered")
        }
        connection.send(XMPPStanza.presence(allow ? "subscribed" : "unsubscribed", to: from.bare))
        if allow, book.items[from.bare]?.subscription != .both, book.items[from.bare]?.subscription != .to {
            connection.send(XMPPStanza.presence("subscribe", to: from.bare))
        }
        requests.remove(from.bare)
    }

    /// The roster as contacts of this network, and which of them are online (nil while not
    /// signed in: the network cannot say).
    func contacts() -> (list: [NetworkContact], online: Set<String>?) {
        let network = Network.xmpp(jid: record.jid)
        let list = book.sorted.map { NetworkContact(Endpoint(network: network, id: $0.jid.description), displayName: $0.name) }
        return (list, state == .online ? Set(online.keys.map(\.description)) : nil)
    }

    private func run(first: XMPPConnection.Login?) async {
        var backoff = Backoff(baseMillis: 1_000, capMillis: 300_000)
        var pending = first
        while !Task.isCancelled {
            do {
                let login: XMPPConnection.Login
                if let ready = pending {
                    login = ready  // signed in by `start(with:)`
                } else {
                    state = .connecting
                    login = try await Self.signIn(record, rosterVersion: book.version, group: group)
                    try signedIn(login)
                }
                pending = nil
                backoff.reset()
                for await item in login.connection.incoming { received(item) }
                connection = nil
                online = [:]
                problem = Self.describe(login.connection.ended ?? .closed)
            } catch let error as XMPPError where error.needsTheUser {
                state = .failed
                problem = Self.describe(error)
                logger.warning("xmpp sign-in failed, not retried until the network is added again: \(problem ?? "")")
                return
            } catch {
                problem = (error as? XMPPError).map(Self.describe) ?? "\(error)"
            }
            guard !Task.isCancelled else { return }
            state = .waiting
            let delay = backoff.nextDelayMillis(random: { Double.random(in: 0...1) })
            logger.info("xmpp connection ended (\(problem ?? "")); trying again in \(delay) ms")
            try? await Task.sleep(for: .milliseconds(delay))
        }
    }

    /// The login's roster is stored before the network says it is online.
    private func signedIn(_ login: XMPPConnection.Login) throws {
        let traffic = login.connection.traffic
        var received = 0
        if case .full(let items, _) = login.roster { received = items.count }
        book.apply(login.roster)
        if login.roster != .unchanged { try saveBook() }
        lastLogin = NetworkLogin(bytesIn: traffic.bytesIn, bytesOut: traffic.bytesOut, roundTrips: traffic.roundTrips,
                                 rosterItemsReceived: received, rosterUnchanged: login.roster == .unchanged, atMillis: now())
        connection = login.connection
        requests = []
        state = .online
        problem = nil
        fetchArchive(on: login.connection)
        logger.info("xmpp signed in as \(login.boundJID): roster \(login.roster == .unchanged ? "unchanged" : "\(received) items"), \(traffic.bytesIn) bytes in, \(traffic.bytesOut) out, \(traffic.roundTrips) round trips")
    }

    private func received(_ item: XMPPIncoming) {
        switch item {
        case .rosterPush(let pushed, let version):
            book.apply(push: pushed, version: version)
            do { try saveBook() } catch { logger.error("could not store a roster push: \(error)") }
        case .presence(let from, let available, _):
            var resources = online[from.bare, default: []]
            if available { resources.insert(from.resource) } else { resources.remove(from.resource) }
            online[from.bare] = resources.isEmpty ? nil : resources
        case .message(let from, let body, let id, let archiveID):
            guard from.bare != account else { return }
            let message = AgentStore.XMPPMessage(network: record.jid, peer: from.bare.description, outgoing: false, body: body,
                                                 stanzaID: id, archiveID: archiveID, atMillis: now())
            do { try store.saveXMPPMessage(message) } catch { logger.error("could not store a message from \(from.bare): \(error)") }
        case .archived(let archived):
            store(archived)
        case .archivePage(let page):
            continueArchive(after: page)
        case .subscriptionRequest(let from):
            // Never approved by itself: it waits for the user (`kith people allow|deny`).
            if from.bare != account { requests.insert(from.bare) }
        case .subscriptionAnswer, .iqAnswer:
            break
        }
    }

    // MARK: The archive

    /// This sign-in's reading of the archive (`XMPPArchiveFetch` decides).
    private var archive = XMPPArchiveFetch()

    /// After each sign-in: messages written while the agent was away arrive from the archive
    /// even when another client of the account took them first.
    private func fetchArchive(on connection: XMPPConnection) {
        archive = XMPPArchiveFetch()
        let newest = try? store.newestXMPPArchived(network: record.jid)
        let first = XMPPArchiveFetch.firstQuery(newestArchived: newest?.archiveID,
                                                added: Date(timeIntervalSince1970: Double(record.addedMillis) / 1000))
        archive.asked(connection.queryArchive(after: first.after, start: first.start))
    }

    private func continueArchive(after page: XMPPArchivePage) {
        switch archive.ended(page) {
        case .next(let after): if let connection { archive.asked(connection.queryArchive(after: after, start: nil)) }
        case .refused: logger.notice("the XMPP server refused the archive query; offline messages still arrive")
        case .done, .ignore: break
        }
    }

    private func store(_ archived: XMPPArchivedMessage) {
        guard let (peer, outgoing) = archived.conversation(of: account) else { return }
        let at = archived.stamp.map { UInt64(max(0, $0.timeIntervalSince1970) * 1000) } ?? now()
        let message = AgentStore.XMPPMessage(network: record.jid, peer: peer.description, outgoing: outgoing, body: archived.body,
                                             stanzaID: archived.stanzaID, archiveID: archived.archiveID, atMillis: at)
        do { try store.saveXMPPMessage(message) } catch { logger.error("could not store an archived message: \(error)") }
    }

    private func saveBook() throws {
        try store.saveXMPPRoster(network: record.jid, rows: book.sorted.map(Self.row), version: book.version)
    }

    static func describe(_ error: XMPPError) -> String {
        switch error {
        case .authenticationFailed(let condition):
            condition == "not-authorized" ? "the server refused the account or password" : "the server refused the sign-in (\(condition))"
        case .noUsableMechanism(let offered): "the server offers no sign-in this client uses safely (offered: \(offered.joined(separator: ", ")))"
        case .tlsUnavailable: "the server offers no TLS, and it is not on this machine: refused"
        case .tlsFailed(let reason): "the server's certificate is not trusted by this system (\(reason))"
        case .certificateMismatch(let presented): "the server's certificate is not the pinned one: it presented \(presented)"
        case .scram(let problem): "the server's sign-in answer is not valid (\(problem))"
        case .xml(let problem): "the server sent XML this client refuses (\(problem))"
        case .streamError(let condition): "the server ended the stream (\(condition))"
        case .bindFailed(let condition): "the server refused the session (\(condition))"
        case .unexpected(let what): "the server sent \(what)"
        case .closed: "the connection closed"
        case .timedOut: "the server did not answer in time"
        }
    }

    private static func row(_ item: XMPPRosterItem) -> AgentStore.XMPPRosterRow {
        .init(jid: item.jid.description, name: item.name, subscription: item.subscription.rawValue,
              pendingOut: item.pendingOut, groups: item.groups)
    }

    private static func item(_ row: AgentStore.XMPPRosterRow) -> XMPPRosterItem? {
        guard let jid = try? JID(parsing: row.jid), let subscription = XMPPRosterItem.Subscription(rawValue: row.subscription) else { return nil }
        return XMPPRosterItem(jid: jid, name: row.name, subscription: subscription, pendingOut: row.pendingOut, groups: row.groups)
    }
}
