import KithAPI
import KithCore
import KithCrypto
import KithNet
import KithStore
import KithWire

/// The agent's side of direct paths: it gives `DirectPaths` the siblings and their candidates,
/// tells the server this device's own, and commits what arrives directly.
extension AccountContext {
    /// Hands the siblings in the stored device list, with their candidates, to the direct paths.
    func updateDirectPaths() async {
        guard let directPaths = directPaths, let me = (try? store.session())??.deviceID else { return }
        let onLAN = lanCandidates()
        let peers = approvedSiblings().filter { $0.id != me }.compactMap { device in
            SigningPublicKey(rawValue: device.key)?.noisePublicKey.map { key in
                let lan = (onLAN[device.id] ?? []) + device.addresses
                return (id: device.id, key: key, candidates: lan.uniqued().map { Candidate($0, .lan) }
                    + device.publicAddresses.filter { !lan.contains($0) }.map { Candidate($0, .direct) })
            }
        }
        await directPaths.update(peers: peers)
    }

    /// Tells the server where this device's UDP socket can be reached: its interfaces' addresses,
    /// and the address the server's UDP port sees it at (spec §Endpoints).
    func reportEndpoints(_ connection: ClientConnection, server: HostPort) async {
        guard let directPaths = directPaths else { return }
        let local = await directPaths.localCandidates()
        let reflected = await directPaths.reflect(host: server.host, port: server.port)
        let observed = reflected.map { [$0.description] } ?? []
        let request = Endpoints(addresses: local, publicAddresses: observed.filter { !local.contains($0) })
        do {
            let answer = try await connection.request(.endpoints(request), timeout: .seconds(10)).message
            if answer != .ack(.init()) {
                logger.notice("the server did not take this device's UDP addresses: \(Self.describe(answer))")
            }
        } catch {
            logger.notice("the server did not take this device's UDP addresses: \(error)")
        }
        logger.info("UDP candidates: \(local.joined(separator: ", "))\(reflected.map { "; the server sees \($0)" } ?? "")")
    }

    /// A note or notice that came on a direct path: committed before the direct paths acknowledge it.
    /// The direct paths hold sessions with approved siblings only; `Intake`'s table decides the rest.
    func receiveDirect(_ envelope: Envelope, from device: String) -> Bool {
        let sender: Intake.Sender = isApprovedSibling(device) ? .approvedSibling : .unapprovedSibling
        do {
            switch Intake.handle(Intake.Kind(envelope.message), from: sender, via: .direct) {
            case .siblingItem: try commitFromSibling(envelope.message, from: device)
            case .drop(let reason): logger.notice("dropped a direct \(envelope.message.type) from \(device): \(reason)")
            case .siblingDocument, .approveRequest, .contactMessage:
                logger.notice("dropped a direct \(envelope.message.type) from \(device): not on this route")
            }
            return true
        } catch {
            logger.error("cannot store a direct \(envelope.message.type) from \(device): \(error); it will come again")
            return false
        }
    }

    func pathChanged(_ device: String, _ mode: PathMachine.Mode) {
        publish(AgentEvent(event: .path, from: device, path: Self.pathName(mode)))
        if case .direct = mode { Task { await self.flushOutbox() } }
    }

    static func pathName(_ mode: PathMachine.Mode?) -> String {
        switch mode {
        case .direct(let candidate)?: candidate.kind.rawValue
        default: "relay"
        }
    }
}
