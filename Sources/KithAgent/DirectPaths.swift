import Dispatch
import Foundation
import KithCore
import KithCrypto
import KithNet
import KithWire
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// The agent's UDP socket and its direct paths to the account's other devices (spec §Endpoints,
/// §Path choice, §Direct messages). One `PathMachine` per sibling decides; this actor sends the
/// handshakes and keepalives its actions ask for, keeps the sessions, and carries envelopes:
/// notes and viewed-notices go here first and through the relay when there is no direct path
/// or a delivery is not acknowledged in time.
actor DirectPaths {
    struct Peer {
        var key: PublicKey
        var machine = PathMachine()
    }

    /// Hands an incoming note or notice to the agent; true once it is committed (then acknowledged).
    typealias Intake = @Sendable (Envelope, String) async -> Bool

    let keys: KeyPair
    let logger: Logger
    /// Wall clock: only for the handshake timestamp.
    private let now: @Sendable () -> UInt64
    /// Monotonic milliseconds, for every timer and round trip (a clock step must not kill paths).
    let clock: @Sendable () -> UInt64
    private let intake: Intake
    private let onChange: @Sendable (String, PathMachine.Mode) -> Void
    /// The socket while it is served: datagrams are written to it straight from this actor.
    private var sending: (any Channel)?
    /// The bound socket, its tick timer, and whether `stop` ended them for good.
    private var socket: (any Channel)?
    private var ticker: Task<Void, Never>?
    private var stopped = false
    private(set) var localAddress: SocketAddress?
    var peers: [String: Peer] = [:]
    /// Which session goes to whom, and which one each sibling is sent on: the decisions.
    var sessions = SessionTable<DatagramSession, SocketAddress>()
    private var initiations: [UInt32: (peer: String, pending: DeviceHandshake.Pending, sentAt: UInt64, to: String)] = [:]
    /// What an initiation to this device must get past before any Diffie-Hellman.
    private lazy var handshakeGate = HandshakeGate(responder: keys.publicKey, random: secureRandomBytes)
    /// Cookies siblings under load gave this device, for its next initiations to them.
    private var cookieJar = CookieJar()
    /// Under load, since the last log line: initiations answered with a cookie reply, answered
    /// because they carried a right cookie, and dropped over their address's rate.
    private var gateCounts = (cookieReplies: 0, cookied: 0, overRate: 0, loggedAt: UInt64(0))
    /// Notes and notices waiting for their Ack (DirectPaths+Delivery.swift).
    var deliveries = DirectDeliveries()
    private var pings: [UInt64: (peer: String, sentAt: UInt64)] = [:]
    private var reflection: (nonce: [UInt8], continuation: CheckedContinuation<EndpointAddress?, Never>)?
    /// UDP streams to siblings (spec §UDP stream; UDPStreams.swift).
    var udpStreams = UDPStreams()
    /// Runs of equal datagrams go out as one write the kernel segments (GSO) while this holds; a
    /// segmented write refused for its segmentation (a device without checksum offload, a path
    /// whose MTU is below a datagram) turns it off for good, at once, on the event loop that saw
    /// it, and every datagram goes alone, as without the kernel's help.
    private let segmentationOffload = NIOLockedValueBox(System.supportsUDPSegmentationOffload && DirectPaths.offloadAllowed)
    /// Reads the kernel coalesced (GRO), cut apart by `DatagramSplitter`.
    private static let receiveOffload = System.supportsUDPReceiveOffload && offloadAllowed
    private static let offloadAllowed = ProcessInfo.processInfo.environment["KITH_UDP_OFFLOAD"] != "0"
    /// Streams fed during the batch of datagrams being handled: pumped once, when it ends.
    var fedInBatch: Set<UDPStreams.Key>?
    /// Datagrams and the reads and writes that carried them (several per read or write when the
    /// kernel coalesces or segments them), for the UDP streams' log lines.
    var socketCounts = (reads: 0, datagramsRead: 0, writes: 0, datagramsWritten: 0)

    init(keys: KeyPair, logger: Logger, now: @escaping @Sendable () -> UInt64,
         clock: @escaping @Sendable () -> UInt64 = { UInt64(DispatchTime.now().uptimeNanoseconds / 1_000_000) },
         intake: @escaping Intake, onChange: @escaping @Sendable (String, PathMachine.Mode) -> Void) {
        self.keys = keys
        self.logger = logger
        self.now = now
        self.clock = clock
        self.intake = intake
        self.onChange = onChange
    }

    // MARK: - The socket

    /// Binds the UDP socket and serves it until `stop` (or the process ends).
    func start(host: String, port: Int, group: any EventLoopGroup) async throws {
        try await bind(host: host, port: port, group: group)
        ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(100))
                self.tick()
            }
        }
    }

    /// Binds the socket and serves it; if it ever closes (NIO closes a UDP channel on most send
    /// errors), binds the same port again, so direct paths come back instead of dying quietly.
    private func bind(host: String, port: Int, group: any EventLoopGroup) async throws {
        // UDP streams (spec §UDP stream) come in bursts of a congestion window: read many datagrams
        // per wakeup, and let the kernel hold a window's worth (it caps the size at net.core.rmem_max).
        // Where the kernel coalesces datagrams of one flow (GRO), a read holds up to 64 KiB of them
        // and reports their size; the splitter cuts them apart on the event loop.
        let receiveOffload = Self.receiveOffload
        let channel = try await DatagramBootstrap(group: group)
            .channelOption(.maxMessagesPerRead, value: 32)
            .channelOption(.socketOption(.so_rcvbuf), value: 4 << 20)
            .channelOption(.socketOption(.so_sndbuf), value: 4 << 20)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: receiveOffload ? 1 << 16 : 2048))
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if receiveOffload {
                        try channel.syncOptions?.setOption(.datagramReceiveOffload, value: true)
                        try channel.syncOptions?.setOption(.datagramReceiveSegmentSize, value: true)
                    }
                    try channel.pipeline.syncOperations.addHandler(DatagramSplitter())
                    return try NIOAsyncChannel<ReceivedDatagrams, AddressedEnvelope<ByteBuffer>>(
                        wrappingChannelSynchronously: channel,
                        configuration: .init(backPressureStrategy: .init(lowWatermark: 32, highWatermark: 128)))
                }
            }
        localAddress = channel.channel.localAddress
        socket = channel.channel
        logger.info("UDP for direct paths on \(localAddress?.description ?? "?")")
        let bound = localAddress?.port ?? port
        Task {
            try? await channel.executeThenClose { inbound, _ in
                self.setSending(channel.channel)
                for try await batch in inbound {
                    await self.received(batch)
                }
            }
            self.setSending(nil)
            guard !self.stopped else { return }
            self.logger.warning("the UDP socket closed; binding port \(bound) again")
            while !Task.isCancelled {
                do {
                    try await self.bind(host: host, port: bound, group: group)
                    return
                } catch {
                    try? await Task.sleep(for: .seconds(1))
                }
            }
        }
    }

    /// Closes the socket for good: the account is gone from this agent.
    func stop() async {
        stopped = true
        ticker?.cancel()
        try? await socket?.close()
    }

    private func setSending(_ channel: (any Channel)?) {
        sending = channel
    }

    /// The event loop of the socket while it is served: where delivery timers run.
    var socketEventLoop: (any EventLoop)? { sending?.eventLoop }

    /// Sends one datagram; addresses of another family than the socket's are skipped (sending
    /// to them would fail, and NIO closes a UDP channel on such errors).
    private func write(_ bytes: [UInt8], to address: SocketAddress) {
        write([bytes], to: address)
    }

    /// Sends datagrams in order, after everything written before them: one hand-over to the
    /// socket's event loop per call (its tasks run in the order given, so a stream's segments do
    /// not overtake each other), with no task of our own between this actor and the loop.
    func write(_ packets: [[UInt8]], to address: SocketAddress) {
        guard let channel = sending, !packets.isEmpty, address.protocol == localAddress?.protocol else { return }
        let envelopes = segmentationOffload.withLockedValue { $0 }
            ? SegmentedDatagrams.envelopes(packets, to: address, allocator: channel.allocator)
            : packets.map { AddressedEnvelope(remoteAddress: address, data: channel.allocator.buffer(bytes: $0)) }
        socketCounts.writes += envelopes.count
        socketCounts.datagramsWritten += packets.count
        let offload = segmentationOffload, logger = logger
        channel.eventLoop.execute {
            for envelope in envelopes {
                guard envelope.metadata?.segmentSize != nil else {
                    channel.write(envelope, promise: nil)
                    continue
                }
                // Its datagrams are lost (a stream sends them again); if the socket closed over
                // it, `bind` opens it again.
                let promise = channel.eventLoop.makePromise(of: Void.self)
                promise.futureResult.whenFailure { error in
                    guard SegmentedDatagrams.isOffloadFailure(error),
                          offload.withLockedValue({ on in defer { on = false }; return on }) else { return }
                    logger.notice("UDP segmentation offload failed (\(error)); sending datagram by datagram from now on")
                }
                channel.write(envelope, promise: promise)
            }
            channel.flush()
        }
    }

    // MARK: - Endpoints

    /// This socket's addresses on the machine's interfaces: every IPv4 address when it is bound
    /// to all of them, else the one it is bound to.
    func localCandidates() -> [String] {
        guard let local = localAddress, let port = local.port else { return [] }
        if let ip = local.ipAddress, ip != "0.0.0.0" { return ["\(ip):\(port)"] }
        let devices = (try? System.enumerateDevices()) ?? []
        return devices.compactMap { device -> String? in
            guard case .v4? = device.address, let ip = device.address?.ipAddress, !ip.hasPrefix("127.") else { return nil }
            return "\(ip):\(port)"
        }.uniqued()
    }

    /// Asks the server's UDP port what address it sees this socket at; nil after a second.
    func reflect(host: String, port: Int) async -> EndpointAddress? {
        guard let server = (try? HostPort(parsing: "\(host):\(port)")).flatMap({ try? SocketAddress(ipAddress: $0.host, port: $0.port) })
                ?? (try? SocketAddress.makeAddressResolvingHost(host, port: port))
        else { return nil }
        let nonce = secureRandomBytes(Datagram.probeNonceLength)
        guard let probe = try? Datagram.endpointProbe(nonce: nonce).encode() else { return nil }
        reflection?.continuation.resume(returning: nil)
        return await withCheckedContinuation { continuation in
            reflection = (nonce, continuation)
            for delay in [0, 300, 600] {  // three tries; UDP may drop one
                Task {
                    try? await Task.sleep(for: .milliseconds(delay))
                    self.sendProbe(probe, to: server, nonce: nonce)
                }
            }
            Task {
                try? await Task.sleep(for: .seconds(1))
                self.endReflection(nonce: nonce, with: nil)
            }
        }
    }

    private func sendProbe(_ probe: [UInt8], to server: SocketAddress, nonce: [UInt8]) {
        guard reflection?.nonce == nonce else { return }
        write(probe, to: server)
    }

    private func endReflection(nonce: [UInt8], with address: EndpointAddress?) {
        guard let pending = reflection, pending.nonce == nonce else { return }
        reflection = nil
        pending.continuation.resume(returning: address)
    }

    // MARK: - Peers

    /// The account's other devices, with their keys and candidates (from the device list).
    func update(peers list: [(id: String, key: PublicKey, candidates: [Candidate])]) {
        let time = clock()
        let ids = Set(list.map(\.id))
        for id in peers.keys where !ids.contains(id) { forget(id) }
        for entry in list {
            if let known = peers[entry.id], known.key != entry.key { forget(entry.id) }
            var peer = peers[entry.id] ?? Peer(key: entry.key)
            let actions = peer.machine.candidatesChanged(entry.candidates, now: time)
            peers[entry.id] = peer
            perform(actions, for: entry.id)
        }
    }

    /// A device that left the list, or whose key changed: its sessions go with it.
    private func forget(_ id: String) {
        endStreams(of: id, reason: "\(id) left the device list or changed its key")
        _ = udpStreams.directory.forget(id)
        peers[id] = nil
        sessions.forget(id)
        initiations = initiations.filter { $0.value.peer != id }
    }

    func mode(of peer: String) -> PathMachine.Mode? { peers[peer]?.machine.mode }
    func rtt(of peer: String) -> Double? { peers[peer]?.machine.rttMillis }
    func isDirect(_ peer: String) -> Bool { peers[peer]?.machine.isDirect == true }
    /// Where the peer's working direct path goes (its TCP listener has the same port), and the path's name.
    func directAddress(of peer: String) -> (host: String, port: Int, path: String)? {
        guard let machine = peers[peer]?.machine, machine.isDirect, let (_, address) = sessions.sendTarget(for: peer),
              let host = address.ipAddress, let port = address.port else { return nil }
        guard case .direct(let candidate) = machine.mode else { return nil }
        return (host, port, candidate.kind.rawValue)
    }

    private func tick() {
        let time = clock()
        for id in peers.keys {
            guard var peer = peers[id] else { continue }
            let actions = peer.machine.tick(now: time)
            peers[id] = peer
            perform(actions, for: id)
        }
        initiations = initiations.filter { time < $0.value.sentAt + 5000 }
        pings = pings.filter { time < $0.value.sentAt + 10_000 }
        logGateCounts(time)
        streamTick(now: time)
    }

    func perform(_ actions: [PathMachine.Action], for id: String) {
        for action in actions {
            switch action {
            case .probe(let candidates):
                for candidate in candidates { initiate(id, to: candidate) }
            case .keepalive:
                ping(id)
            case .rekey(let candidate):
                initiate(id, to: candidate)
            case .changed(let mode):
                if case .relay = mode {
                    sessions.stopSending(to: id)
                    endStreams(of: id, reason: "the direct path to \(id) is gone (\(Self.describe(mode)))")
                }
                logger.info("path to \(id): \(Self.describe(mode))")
                onChange(id, mode)
            }
        }
    }

    static func describe(_ mode: PathMachine.Mode) -> String {
        switch mode {
        case .relay(let reason): "relay (\(reason))"
        case .probing: "probing"
        case .direct(let candidate): "\(candidate.kind.rawValue) via \(candidate.address)"
        }
    }

    // MARK: - Handshakes

    private func initiate(_ id: String, to candidate: Candidate) {
        guard let peer = peers[id], let hostPort = try? HostPort(parsing: candidate.address),
              let address = try? SocketAddress(ipAddress: hostPort.host, port: hostPort.port)
        else { return }
        let index = newIndex()
        do {
            let cookie = cookieJar.cookie(for: hostPort.description, nowMillis: clock())
            let (packet, pending) = try DeviceHandshake.initiate(localKeys: keys, peerKey: peer.key, localIndex: index,
                                                                 nowMillis: now(), cookie: cookie)
            initiations[index] = (id, pending, clock(), hostPort.description)
            write(packet, to: address)
        } catch {
            logger.warning("cannot start a handshake with \(id): \(error)")
        }
    }

    /// The datagrams of one read; the UDP streams they fed send their acks and data once, at the end.
    private func received(_ batch: ReceivedDatagrams) async {
        socketCounts.reads += 1
        socketCounts.datagramsRead += batch.datagrams.count
        guard batch.datagrams.count > 1 else {
            if let datagram = batch.datagrams.first { await received(datagram, from: batch.address) }
            return
        }
        fedInBatch = []
        for datagram in batch.datagrams { await received(datagram, from: batch.address) }
        pumpFedStreams()
        fedInBatch = nil
    }

    /// Pumps the streams fed so far in this batch: at its end, and before a datagram whose
    /// handling waits (a note's commit), so their acks do not wait for it.
    private func pumpFedStreams() {
        guard let fed = fedInBatch, !fed.isEmpty else { return }
        fedInBatch = []
        for key in fed { if let stream = udpStreams.open[key] { pump(stream) } }
    }

    private func received(_ bytes: [UInt8], from address: SocketAddress) async {
        // A handshake initiation is weighed before any Diffie-Hellman (spec §UDP packets,
        // Handshake over UDP): mac1, then under load the cookie, then its source's rate.
        if bytes.first == Datagram.PacketType.handshakeInitiation.rawValue
            || bytes.first == Datagram.PacketType.cookiedInitiation.rawValue {
            guard let source = EndpointAddress(address) else { return }
            switch handshakeGate.weigh(bytes[...], from: source, nowMillis: clock()) {
            case .answer:
                if bytes.first == Datagram.PacketType.cookiedInitiation.rawValue { gateCounts.cookied += 1 }
            case .cookieReply(let reply):
                gateCounts.cookieReplies += 1
                return write(reply, to: address)
            case .drop(let reason):
                if reason == .overRate { gateCounts.overRate += 1 }
                return
            }
        }
        let datagram: Datagram
        do { datagram = try Datagram.decode(bytes[...]) } catch { return }  // dropped silently (spec §UDP packets)
        switch datagram {
        case let .handshakeInitiation(senderIndex, message):
            answer(senderIndex: senderIndex, message: message, from: address)
        case let .cookiedInitiation(senderIndex, rest):
            answer(senderIndex: senderIndex, message: Array(rest.dropLast(Datagram.macLength)), from: address)
        case let .cookieReply(receiverIndex, nonce, sealedCookie):
            // Kept only if it opens for an initiation this device sent (its mac1 is the AEAD's data).
            guard let (_, pending, _, to) = initiations[receiverIndex] else { return }
            if cookieJar.take(nonce: nonce, sealedCookie: sealedCookie, responder: pending.peerKey, mac1: pending.mac1,
                              address: to, nowMillis: clock()) {
                logger.info("\(to) is under load: initiations to it carry its cookie for the next two minutes")
            }
        case let .handshakeResponse(senderIndex, receiverIndex, message):
            // A response that does not verify leaves the initiation waiting for the real one.
            guard let (id, pending, _, _) = initiations[receiverIndex],
                  let session = try? DeviceHandshake.complete(pending, senderIndex: senderIndex, message: message)
            else { return }
            initiations[receiverIndex] = nil
            let hostPort = Self.hostPort(address)
            let moved = sessions.addCompleted(receiverIndex, peer: id, session: session, address: address, now: clock(),
                                              keepCurrent: peers[id]?.machine.keepsCurrentPath(over: hostPort) ?? false)
            if moved { established(id, at: hostPort) }
            ping(id)  // the first packet on the session confirms it to the responder
        case let .transportData(receiverIndex, counter, ciphertext):
            guard let opened = sessions.withSession(receiverIndex, {
                      try? $0.open(receiverIndex: receiverIndex, counter: counter, ciphertext: ciphertext)
                  }),
                  let plaintext = opened
            else { return }
            // Asked only for a session's first packet (a path decision), not per datagram.
            guard let (peer, moved) = sessions.received(
                on: receiverIndex, from: address, now: clock(),
                keepCurrent: { self.peers[$0]?.machine.keepsCurrentPath(over: Self.hostPort(address)) ?? false })
            else { return }
            if moved { established(peer, at: Self.hostPort(address)) }
            if StreamFrameType.isStreamFrame(plaintext[...]) { return streamFrame(plaintext[...], from: peer) }
            guard let envelope = try? Envelope.decode(plaintext[...]) else { return }
            pumpFedStreams()
            await handle(envelope, from: peer, session: receiverIndex, address: address)
        case let .endpointReply(nonce, observed):
            endReflection(nonce: nonce, with: observed)
        case .endpointProbe:
            return  // only the server answers probes
        }
    }

    private func answer(senderIndex: UInt32, message: [UInt8], from address: SocketAddress) {
        guard let initiation = try? DeviceHandshake.read(initiation: senderIndex, message: message, localKeys: keys),
              let id = peers.first(where: { $0.value.key == initiation.peerKey })?.key,
              sessions.acceptInitiation(from: id, timestamp: initiation.timestamp)
        else { return }  // not a sibling's key, or replayed: no answer
        let index = newIndex()
        guard let (packet, session) = try? DeviceHandshake.respond(to: initiation, localIndex: index) else { return }
        sessions.addAnswered(index, peer: id, session: session, address: address, now: clock())
        write(packet, to: address)
    }

    /// Sending moved to a new session: the path machine hears of it.
    private func established(_ id: String, at hostPort: String) {
        guard var peer = peers[id] else { return }
        let actions = peer.machine.established(address: hostPort, now: clock())
        peers[id] = peer
        perform(actions, for: id)
    }

    /// One line at most every 10 s while initiations are being turned away (a flood is not a log flood).
    private func logGateCounts(_ time: UInt64) {
        guard gateCounts.cookieReplies + gateCounts.overRate > 0, time &- gateCounts.loggedAt >= 10_000 else { return }
        logger.notice("""
            UDP handshakes under load: \(gateCounts.cookieReplies) initiations answered with a cookie reply, \
            \(gateCounts.cookied) carrying a right cookie answered, \(gateCounts.overRate) dropped over their address's rate
            """)
        gateCounts = (0, 0, 0, time)
    }

    private func newIndex() -> UInt32 {
        while true {
            let index = UInt32.random(in: 1...UInt32.max)
            if sessions.entries[index] == nil && initiations[index] == nil { return index }
        }
    }

    static func hostPort(_ address: SocketAddress) -> String {
        HostPort(host: address.ipAddress ?? "?", port: address.port ?? 0).description
    }

    // MARK: - Envelopes

    /// Seals `envelope` on the peer's send session; false if there is none or it does not fit.
    @discardableResult
    func send(_ envelope: Envelope, to id: String) -> Bool {
        guard let (index, address) = sessions.sendTarget(for: id), seal(envelope, on: index, to: address) else { return false }
        peers[id]?.machine.sent(now: clock())
        return true
    }

    /// Seals `envelope` on session `index` and sends it to `address`.
    @discardableResult
    private func seal(_ envelope: Envelope, on index: UInt32, to address: SocketAddress) -> Bool {
        guard let plaintext = try? envelope.encode(),
              let sealed = sessions.withSession(index, { try? $0.seal(plaintext) }), let packet = sealed
        else { return false }
        write(packet, to: address)
        return true
    }

    /// A keepalive: its Pong is what shows this side's send session still reaches the peer.
    private func ping(_ id: String) {
        let nonce = UInt64.random(in: 0...UInt64.max)
        pings[nonce] = (id, clock())
        send(Envelope(requestID: deliveries.nextID(), .ping(.init(nonce: nonce))), to: id)
    }

    /// Answers go back on the session the request came on, to where it came from: that works
    /// whichever session this side itself sends on, or none.
    private func handle(_ envelope: Envelope, from id: String, session index: UInt32, address: SocketAddress) async {
        switch envelope.message {
        case .ping(let ping):
            seal(Envelope(requestID: envelope.requestID, .pong(.init(nonce: ping.nonce))), on: index, to: address)
        case .pong(let pong):
            guard let ping = pings[pong.nonce], ping.peer == id else { return }
            pings[pong.nonce] = nil
            let time = clock()
            peers[id]?.machine.heard(now: time)
            peers[id]?.machine.measured(rttMillis: Double(time >= ping.sentAt ? time - ping.sentAt : 0))
        case .ack:
            guard deliveries.isWaiting(envelope.requestID, for: id) else { return }
            peers[id]?.machine.heard(now: clock())
            resume(envelope.requestID, with: true, from: id)
        case .note, .viewed:
            if await intake(envelope, id) { seal(Envelope(requestID: envelope.requestID, .ack(.init())), on: index, to: address) }
        default:
            logger.notice("dropped a direct \(envelope.message.type) from \(id): not carried on direct paths")
        }
    }
}

extension Array where Element: Hashable {
    func uniqued() -> [Element] {
        var seen = Set<Element>()
        return filter { seen.insert($0).inserted }
    }
}
