import Foundation
import KithAPI
import KithCore
import KithCrypto
import KithNet
import KithStore
import Logging
import NIOCore
import NIOPosix

/// The background agent of one profile: the composition root. It holds the device's identity,
/// the store and the local API's subscribers, builds one `AccountContext` per account the device
/// is logged in to, and routes each local API request to the account it names (or the default
/// one: the account logged in last). Everything an account does happens in its context.
public actor Agent {
    public let paths: AgentPaths
    let store: AgentStore
    let identity: DeviceIdentity
    let logger: Logger
    let group: any EventLoopGroup
    let now: @Sendable () -> UInt64
    let settings: AgentSettings
    /// The accounts, in the order they were added.
    var accounts: [HeldAccount] = []
    /// Each master's connection while it is up: what its pages send on (Agent+Pages).
    var masterConnections: [String: (connection: ClientConnection, session: AgentStore.Session)] = [:]
    /// The local API's event subscribers (Agent+Events).
    let events = EventHub()
    /// Each account's open watch page, by owner (Agent+WatchPage).
    var watchPages: [String: WatchPageServer] = [:]
    /// The profile's XMPP accounts, in the order they were added (Agent+Networks).
    var xmppNetworks: [XMPPNetwork] = []
    /// The merged contacts, loaded from the store at first use (Agent+People).
    var peopleBook: PeopleBook?

    public init(paths: AgentPaths, logger: Logger, settings: AgentSettings = AgentSettings(),
                group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                now: @escaping @Sendable () -> UInt64 = { UInt64(Date().timeIntervalSince1970 * 1000) }) throws {
        self.paths = paths
        self.settings = settings
        self.logger = logger
        self.group = group
        self.now = now
        identity = try IdentityFile.loadOrCreate(in: paths.directory).identity
        store = try AgentStore(path: paths.store.path)
    }

    /// Starts a context for every account with a session (or, on a device never logged in, for
    /// none: `kith login` adds the first).
    public func start() async throws {
        var owners = try store.loggedInOwners()
        // A logged-out device keeps its held roster and cached devices for its next login.
        let fallback = try store.defaultOwner()
        if owners.isEmpty, !fallback.isEmpty { owners = [fallback] }
        for owner in owners { try await add(owner: owner) }
        try await startNetworks()
    }

    /// Before the process exits (SIGTERM, SIGINT): every account's server connection closes, and
    /// the store's write-ahead log is folded into the database. Everything acknowledged is
    /// committed already; transfers continue from their last durable step at the next start.
    public func stop() async {
        for page in watchPages.values { await page.stop() }
        for account in accounts { await account.context.stop() }
        for network in xmppNetworks { await network.stop() }
        do { try store.checkpoint() } catch { logger.warning("store checkpoint on stop failed: \(error)") }
    }

    /// Builds and starts the context of `owner`'s rows; the first one added takes the UDP port
    /// the settings ask for, later ones any free port (each account has its own direct paths).
    @discardableResult
    func add(owner: String) async throws -> AccountContext {
        if let existing = context(owner: owner) { return existing }
        var settings = settings
        if !accounts.isEmpty, let udp = settings.udp { settings.udp = HostPort(host: udp.host, port: 0) }
        var logger = logger
        if !owner.isEmpty { logger[metadataKey: "account"] = "\(owner.split(separator: "@").first ?? "")" }
        let context = AccountContext(
            profile: paths.profile, store: store.view(owner: owner), identity: identity, logger: logger,
            settings: settings, group: group, now: now,
            emit: { [events] event in events.publish(event) })
        try await context.start()
        accounts.append(HeldAccount(owner: owner, context: context, master: nil))
        await host(pagesOf: context, owner: owner)
        return context
    }

    func context(owner: String) -> AccountContext? {
        accounts.first { $0.owner == owner }?.context
    }

    /// The context a request is for: the account it names — `alice`, or `alice@<server key hex>`
    /// when one name is on two servers — or the default account when it names none.
    func context(for name: String?) throws -> AccountContext {
        guard let name else {
            let preferred = (try? store.defaultOwner()) ?? ""
            if let context = context(owner: preferred) ?? accounts.first?.context { return context }
            throw AgentError(.notLoggedIn, "this device is not logged in; run `kith login`")
        }
        if let context = context(owner: name) { return context }
        let named = accounts.filter { $0.name == name }
        switch named.count {
        case 1: return named[0].context
        case 0:
            let known = accounts.map(\.name).filter { !$0.isEmpty }
            throw AgentError(.notLoggedIn, "this device is not logged in to \(name)"
                             + (known.isEmpty ? "; run `kith login`" : " (it is to \(known.joined(separator: ", ")))"))
        default:
            throw AgentError(.invalidRequest, "\(name) is an account on several servers here: name one of "
                             + named.map(\.owner).joined(separator: ", "))
        }
    }
}

/// One account the agent holds: its store owner (`account@serverkey`), the account's name (the
/// owner's first part, kept so routing a message does not cut strings), its context, and for a
/// linked account's page the owner of its master.
struct HeldAccount {
    let owner: String
    let name: String
    let context: AccountContext
    let master: String?

    init(owner: String, context: AccountContext, master: String?) {
        self.owner = owner
        name = String(owner.split(separator: "@").first ?? "")
        self.context = context
        self.master = master
    }
}
