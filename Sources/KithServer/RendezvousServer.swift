import Foundation
import KithCore
import KithCrypto
import KithNet
import KithStore
import KithWire
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// `kith server`: accepts agents' secure channels and serves their sessions.
public final class RendezvousServer: Sendable {
    public let configuration: ServerConfiguration
    public let identity: DeviceIdentity
    private let context: ServerContext
    private let group: MultiThreadedEventLoopGroup
    private let connectionIDs = NIOLockedValueBox<UInt64>(0)
    private let gate: AdmissionGate
    private let checkpoints: BackgroundCheckpoints
    /// This instance's id in the store's instance reports (new at each start).
    private let instance: String

    public init(configuration: ServerConfiguration, logger: Logger) throws {
        self.configuration = configuration
        identity = try IdentityFile.loadOrCreate(in: configuration.dataDirectory).identity
        let store = try configuration.openStore(logger: logger)
        logger.info("store: \(configuration.storeDescription)")
        let instance = InstanceReporter.newID()
        self.instance = instance
        let sharing = (store as? any SharedServerStore).map {
            Presence.Sharing(store: $0, instance: instance, liveWithinMillis: configuration.instanceLiveWithinMillis)
        }
        let presence = Presence(store: store, sharing: sharing, logger: logger, now: configuration.now)
        var tell: (@Sendable (InstanceWord) -> Void)?
        if let sharing { tell = { word in Self.tell(word, in: sharing, logger: logger) } }
        let loginGuard = LoginGuard(configuration, tell: tell)
        // A shared store's commits reach the outboxes as its notices (`watch` below), this
        // instance's own among them; the store is a round trip away, read off the event loops.
        let committed: @Sendable ([RelayRecord]) -> Void
        let storeReads: StoreReads
        if sharing == nil {
            committed = presence.outboxes.admit
            storeReads = .onTheLoop
        } else {
            committed = { _ in }
            storeReads = .offTheLoop()
        }
        context = ServerContext(configuration: configuration, store: store, presence: presence,
                                loginGuard: loginGuard,
                                passwords: PasswordChecker(threads: configuration.passwordCheckThreads,
                                                           queueLimit: configuration.passwordQueueLimit),
                                relays: RelayCommitter(store: store, quota: configuration.relayQuota, now: configuration.now, logger: logger,
                                                       committed: committed),
                                storeReads: storeReads, batchedRelayChecks: sharing == nil ? nil : BatchedRelayChecks(store: store),
                                transit: TransitBroker(), instances: InstanceDirectory(), rosters: RosterKeeper(store: store, logger: logger),
                                watchers: Watchers(store: store, presence: presence, logger: logger, now: configuration.now),
                                logger: logger)
        // What other instances on the store commit and announce reaches the devices online here.
        if let shared = sharing?.store {
            let context = context, outboxes = presence.outboxes, now = configuration.now
            let refreshes = NIOLockedValueBox(PendingRefreshes())
            shared.watch(besides: instance, relays: { outboxes.follow($0) }) { word in
                if case .accountChanged(let account) = word, !refreshes.withLockedValue({ $0.heard(account) }) { return }
                Task {
                    switch word {
                    case .accountChanged(let account):
                        refreshes.withLockedValue { $0.starting(account) }
                        let documents = [ServerSession.links(of: account, in: store)] + (await context.rosters.documents(account: account))
                        await context.presence.refresh(account: account, documents: documents)
                    case .transit(let notice):
                        // A ticket another instance made for a device online here: joined there (spec §Transit).
                        let offer = Envelope(.transitOffer(.init(from: notice.from, ticket: notice.ticket, at: notice.at)))
                        _ = await context.presence.sendIfOnline(offer, to: notice.to)
                    case .sessionMoved(let deviceID, let address):
                        await context.presence.movedElsewhere(deviceID, address: address)
                    case .loginChecked(let account, let address, let right):
                        await context.loginGuard.checkedElsewhere(account: account, address: address, right: right,
                                                                  now: now())
                    }
                }
            }
        }
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        checkpoints = BackgroundCheckpoints(store: store, on: group.next(), logger: logger)
        gate = AdmissionGate(limits: .init(configuration), logger: logger, now: configuration.now)
    }

    /// Tells the other instances `word` off the caller's thread (a login's answer does not wait for it).
    /// An instance takes devices only once it hears the others: what they commit for its devices
    /// and tell it (changed accounts, passwords checked) before then would not reach it. A store
    /// that does not answer within `watchPatience` is not waited for longer (the watch keeps trying).
    private static func waitUntilWatching(_ store: any SharedServerStore, logger: Logger) async {
        let deadline = ContinuousClock.now + watchPatience
        while !store.isWatching && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        if store.isWatching {
            logger.info("listening to the other instances on the store")
        } else {
            logger.warning("not yet listening to the other instances after \(watchPatience); serving anyway")
        }
    }

    static let watchPatience: Duration = .seconds(10)

    private static func tell(_ word: InstanceWord, in sharing: Presence.Sharing, logger: Logger) {
        Task.detached {
            do {
                try sharing.store.tell(word, by: sharing.instance)
            } catch {
                logger.warning("the other instances not told \(word): \(error)")
            }
        }
    }

    /// Binds, calls `ready` with the invite (whose port is the one bound), and serves until the
    /// listening socket closes.
    public func run(ready: @Sendable (Invite) -> Void) async throws {
        let keys = identity.noiseKeyPair
        let keepalive = configuration.keepaliveTimeout
        let logger = context.logger
        let broker = context.transit
        let gate = gate
        let context = context
        logger.info("before login: \(gate.limits)")
        if let shared = context.store as? any SharedServerStore { await Self.waitUntilWatching(shared, logger: logger) }
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            // After a restart every agent comes back at once: NIO's default of 128 waiting connections
            // overflowed, and a dropped handshake costs its device a second or more of TCP retries.
            .serverChannelOption(.backlog, value: Self.listenBacklog)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            // Joined transit pairs have no session timeout: the kernel's keepalive finds a vanished device.
            .childChannelOption(.socketOption(.so_keepalive), value: 1)
            .childChannelOption(DeviceStream.keepIdle, value: 10).childChannelOption(DeviceStream.keepInterval, value: 5)
            .childChannelOption(DeviceStream.keepCount, value: 3)
            .bind(host: configuration.host, port: configuration.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let address = channel.remoteAddress?.description ?? "?"
                    let machine = SecureChannel(role: .responder(accepting: [.agentToServer]), localStatic: keys)
                    let admission = AdmissionHandler(gate: gate, eventLoop: channel.eventLoop)
                    try channel.pipeline.syncOperations.addHandlers(
                        admission,
                        IdleStateHandler(readTimeout: keepalive),
                        IdleCloseHandler { logger.info("closing \(address): silent for \(keepalive)") },
                        TransitRouter(broker: broker, admitted: admission.admitted) { logger.notice("closing \(address): \($0)") },
                        SecureChannelHandler(machine) { logger.warning("closing \(address): \($0)") },
                        SessionLoopHandler(server: context, eventLoop: channel.eventLoop))
                    return try NIOAsyncChannel<SecureChannelEvent, Envelope>(wrappingChannelSynchronously: channel)
                }
            }
        let port = server.channel.localAddress?.port ?? configuration.port
        // The same port number over UDP reflects endpoint probes (spec §Endpoints).
        let reflector = try await DatagramBootstrap(group: group)
            .channelInitializer { $0.pipeline.addHandler(EndpointReflector()) }
            .bind(host: configuration.host, port: port).get()
        defer { reflector.close(promise: nil) }
        let reachable = configuration.reachable(boundPort: port)
        context.instances.here = reachable?.description
        let reporter = InstanceReporter(id: instance, store: context.store, presence: context.presence,
                                        address: reachable?.description ?? "\(HostPort(host: configuration.host, port: port))",
                                        directory: context.store is any SharedServerStore ? context.instances : nil,
                                        liveWithinMillis: configuration.instanceLiveWithinMillis, now: configuration.now, logger: logger)
        let reports = reporter.start(on: group.next(), every: configuration.instanceReportInterval)
        defer { reports.cancel() }
        ready(Invite(host: configuration.host, port: port, key: identity.publicKey))
        try await server.executeThenClose { inbound in
            for try await connection in inbound {
                // A task of its own, not a child of a task group: the runtime takes a finished child
                // out of its group with a linear scan of the others, which made the end of 19,500
                // sessions quadratic (27% of the server's CPU during a reconnect storm, perf).
                Task { await self.serve(connection) }
            }
        }
    }

    private func serve(_ connection: NIOAsyncChannel<SecureChannelEvent, Envelope>) async {
        let id = connectionIDs.withLockedValue { $0 += 1; return $0 }
        let channel = connection.channel
        let address = (channel.remoteAddress?.ipAddress) ?? "?"
        let admission = try? await channel.pipeline.handler(type: AdmissionHandler.self).get()
        let loop = try? await channel.pipeline.handler(type: SessionLoopHandler.self).get()
        do {
            try await connection.executeThenClose { inbound, outbound in
                var session = ServerSession(connectionID: id, address: address, outbound: outbound, channel: channel,
                                            close: { channel.close(promise: nil) }, server: context)
                var admitted = false
                do {
                    for try await event in inbound {
                        switch event {
                        case .established(let key, _): session.peerKey = key
                        case .envelope(let envelope):
                            try await session.handle(envelope)
                            loop?.taskFinished(device: session.device)
                        }
                        if !admitted && (session.device != nil || session.watching != nil) {
                            admitted = true
                            admission?.admitted()
                        }
                    }
                } catch {
                    context.logger.debug("connection \(id) from \(address) ended: \(error)")
                }
                await session.ended()
            }
        } catch {
            context.logger.debug("connection \(id) from \(address) failed: \(error)")
        }
    }

    /// Connections the kernel holds for `accept` (Linux caps it at `net.core.somaxconn`, 4096 here).
    static let listenBacklog: Int32 = 4096

    /// Before the process exits (SIGTERM, SIGINT): the store's write-ahead log is folded into the
    /// database. Every acknowledged item is committed already; agents reconnect and resume.
    public func stop() async {
        do { try context.store.checkpoint() } catch { context.logger.warning("store checkpoint on stop failed: \(error)") }
    }

    public func shutdown() async {
        await context.passwords.shutdown()
        await context.relays.shutdown()
        await context.storeReads.shutdown()
        await context.batchedRelayChecks?.shutdown()
        await checkpoints.shutdown()
        try? await group.shutdownGracefully()
    }
}
