import Foundation
import KithAPI
import KithCore
import KithCrypto
import KithNet
import KithStore
import KithWire
import NIOCore

/// File transfers (spec §File transfer): the agent's part is wiring — the TCP listener beside the
/// UDP socket, transit offers from the server, and the local API; `Transfers` does the rest.
extension AccountContext {
    func startTransfers() async {
        let transfers = Transfers(
            store: store, keys: identity.noiseKeyPair, logger: logger, settings: settings.transfers, group: group, now: now,
            environment: TransferEnvironment(
                siblings: { [weak self] in await self?.siblingKeys() ?? [:] },
                directAddress: { [weak self] peer in await self?.directPaths?.directAddress(of: peer) },
                transit: { [weak self] peer in
                    guard let self else { throw AgentError(.internalError, "the agent stopped") }
                    return try await self.transitTicket(to: peer)
                },
                publish: { [weak self] event in await self?.publish(event) },
                udpStream: { [weak self] peer in try await self?.directPaths?.openStream(to: peer) },
                canOpenUDPStream: { [weak self] peer in await self?.directPaths?.canOpenStream(to: peer) ?? false },
                directRTT: { [weak self] peer in await self?.directPaths?.rtt(of: peer) }))
        self.transfers = transfers
        await transfers.govern(with: ownPermissions()?.receive)
        await transfers.start()
        // UDP streams siblings open (spec §UDP stream) are transfer streams too.
        await directPaths?.setStreamAcceptor { conduit, path in Task { await transfers.serve(conduit, path: path) } }
        // KITH_NO_TCP_STREAMS=1 (tests): no TCP listener, so siblings must use a UDP stream or the relay.
        if ProcessInfo.processInfo.environment["KITH_NO_TCP_STREAMS"] == "1" {
            logger.notice("KITH_NO_TCP_STREAMS=1: no TCP listener for direct transfer streams")
            return
        }
        // Direct streams arrive on TCP at the UDP socket's port number.
        guard let udp = settings.udp, let port = await directPaths?.localAddress?.port else { return }
        do {
            let listener = try await DeviceStream.listen(host: udp.host, port: port, keys: identity.noiseKeyPair,
                                                          ciphers: Transfers.streamCiphers, group: group)
            logger.info("""
                listening for direct transfer streams on TCP \(udp.host):\(port) \
                (ciphers: \(Transfers.streamCiphers.map(\.displayName).joined(separator: ", ")))
                """)
            Task {
                try? await listener.executeThenClose { inbound in
                    for try await stream in inbound {
                        Task { await transfers.serve(stream, path: "direct") }
                    }
                }
            }
        } catch {
            logger.warning("no TCP listener on \(udp.host):\(port) (\(error)); transfers to this device go through the server")
        }
    }

    /// The account's other approved devices and their Noise keys: no stream to or from anyone else.
    func siblingKeys() -> [String: PublicKey] {
        var keys: [String: PublicKey] = [:]
        for device in approvedSiblings() {
            if let key = SigningPublicKey(rawValue: device.key)?.noisePublicKey { keys[device.id] = key }
        }
        return keys
    }

    /// Asks the server for a transit ticket to `peer` (spec §Transit).
    func transitTicket(to peer: String) async throws -> (host: String, port: Int, ticket: [UInt8]) {
        guard let connection, !connection.isClosed, connectedSession != nil, let server = connectedAddress else {
            throw AgentError(.serverUnreachable, "no direct path to \(peer) and the server is not connected")
        }
        let answer = try await connection.request(.transitRequest(.init(to: peer))).message
        guard case .transitTicket(let ticket) = answer else {
            throw AgentError(.serverRefused, "the server will not relay to \(peer): \(Self.describe(answer))")
        }
        return (server.host, server.port, ticket.ticket)
    }

    /// The server says a sibling wants a relayed stream: answer it at the server's port, or at the
    /// instance the offer names when that is one the server named (spec §Transit, Across instances).
    func acceptTransit(_ offer: TransitOffer) {
        guard let transfers, siblingKeys()[offer.from] != nil, let server = transitAddress(of: offer) else {
            logger.notice("ignored a transit offer from \(offer.from)")
            return
        }
        let keys = identity.noiseKeyPair, group = group, logger = logger
        Task {
            do {
                let stream = try await DeviceStream.dial(host: server.host, port: server.port, ticket: offer.ticket,
                                                         role: .responder(accepting: [.deviceToDevice]), keys: keys,
                                                         ciphers: Transfers.streamCiphers, group: group)
                await transfers.serve(stream, path: "relay")
            } catch {
                logger.warning("cannot answer a relayed stream from \(offer.from): \(error)")
            }
        }
    }

    /// Where to join `offer`'s ticket (`InstanceChoice.transitAddress`).
    private func transitAddress(of offer: TransitOffer) -> HostPort? {
        let session = offer.at == nil ? nil : try? store.session()
        let address = InstanceChoice.transitAddress(at: offer.at, connected: connectedAddress,
                                                    invite: session.flatMap { try? Invite(parsing: $0.invite).addresses } ?? [],
                                                    learned: session?.instances ?? [])
        if address == nil, let at = offer.at {
            logger.notice("a transit offer names \(at.debugDescription), which the server did not name as one of its instances")
        }
        return address
    }

    // MARK: - Local API

    func push(_ params: PushRequest) async throws -> TransferInfo {
        guard let transfers else { throw AgentError(.internalError, "transfers are not running") }
        guard let session = try store.session() else { throw AgentError(.notLoggedIn, "log in first: `kith login`") }
        let to = params.to
        guard !to.isEmpty else { throw AgentError(.invalidRequest, "push needs `to`: a device id") }
        guard to != session.deviceID else { throw AgentError(.invalidRequest, "\(to) is this device") }
        guard siblingKeys()[to] != nil else {
            if pendingDevices().contains(where: { $0.id == to }) || rosterRole == "pending" {
                throw AgentError(.notPermitted, rosterRole == "pending" ? "this device is not approved yet; approve it on the primary"
                                                                          : "\(to) is waiting for approval; approve it on the primary first")
            }
            throw AgentError(.unknownDevice, "\(to) is not one of your devices (see `kith devices`)")
        }
        if let permissions = ownPermissions(), !permissions.mayPush(to: to) {
            throw AgentError(.notPermitted, "this device's policy does not allow pushing files to \(to)")
        }
        let receive: ReceivePermission
        switch params.receive ?? "ask" {
        case "direct": receive = .direct
        case "ask": receive = .ask
        default: throw AgentError(.invalidRequest, "receive is direct or ask")
        }
        let plan = try PushPlan(paths: params.paths)
        var info = try await transfers.push(plan.entries, to: to, receive: receive, ttlSeconds: params.ttlSeconds)
        info.skipped = plan.skipped.isEmpty ? nil : plan.skipped
        return info
    }

    /// `transfer`, `accept` and `reject`.
    func transferAction(_ request: some TransferActionRequest) async throws -> TransferInfo {
        guard let transfers else { throw AgentError(.internalError, "transfers are not running") }
        guard !request.id.isEmpty else { throw AgentError(.invalidRequest, "name a transfer (`id`)") }
        switch request {
        case let accept as AcceptRequest:
            let folder = accept.folder.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
            return try await transfers.accept(accept.id, folder: folder)
        case is RejectRequest: return try await transfers.reject(request.id)
        default: return try await transfers.info(request.id)
        }
    }

    func transferList() async throws -> TransfersResult {
        guard let transfers else { throw AgentError(.internalError, "transfers are not running") }
        return TransfersResult(transfers: await transfers.list())
    }
}
