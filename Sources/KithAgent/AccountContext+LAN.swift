import KithAPI
import Foundation
import KithCore
import KithCrypto
import KithStore

/// LAN discovery in the agent (spec §LAN discovery): announce, browse, and hand the addresses of
/// services that claim to be a sibling to the path machine as `lan` candidates. The claim is
/// checked by the handshake against the key in the device list; anything else is only listed.
extension AccountContext {
    /// A `_kith._udp` service seen on the LAN.
    struct Discovered: Sendable {
        var name: String
        var address: String
        var record: LANRecord?
    }

    /// Starts DNS-SD once this device has a session and a UDP socket (the account tag needs the one,
    /// the service's port is the other's), and keeps it current: the tag changes every day and
    /// with the account, and then the service is announced again. Events are handled in order.
    func startLANDiscovery() async {
        guard !lanStarting else { return }
        lanStarting = true
        defer { lanStarting = false }
        guard let directPaths = directPaths, let port = await directPaths.localAddress?.port, let account = (try? store.session())??.account else { return }
        let day = today()
        if let current = lan, current.day == day, current.account == account { return }
        lan?.discovery.stop()
        let fingerprint = identity.publicKey.fingerprint.description
        let record = LANRecord(fingerprint: fingerprint, accountTag: LANRecord.accountTag(account: account, day: day))
        let (events, sink) = AsyncStream.makeStream(of: LANDiscovery.Event.self)
        let discovery = LANDiscovery(instance: LANRecord.instanceName(fingerprint: fingerprint), port: UInt16(port),
                                     record: record) { sink.yield($0) }
        lan = (discovery, day, account)
        discovered = [:]
        Task { [weak self] in
            for await event in events { await self?.lanEvent(event) }
        }
        discovery.start()
        if !lanWatching {
            lanWatching = true
            Task { [weak self] in
                while true {  // a new day (or account) means a new tag
                    try? await Task.sleep(for: .seconds(60))
                    guard let self else { return }
                    await self.startLANDiscovery()
                }
            }
        }
    }

    private func lanEvent(_ event: LANDiscovery.Event) async {
        switch event {
        case .availability(let problem?):
            lanProblem = problem
            logger.notice("LAN discovery off: \(problem); trying again every \(Int(LANDiscovery.retryInterval)) s")
        case .availability(nil):
            lanProblem = nil
            logger.info("LAN discovery on")
        case let .found(name, address, port, txt):
            let record = LANRecord(txt: txt)
            discovered[name] = Discovered(name: name, address: "\(address):\(port)", record: record)
            if let device = sibling(claimedBy: record) {
                logger.info("LAN: \(name) at \(address):\(port) says it is \(device); checking with a handshake")
            }
            await updateDirectPaths()
        case .lost(let name):
            discovered[name] = nil
            await updateDirectPaths()
        }
    }

    /// The approved sibling whose key fingerprint the record names, if it carries this account's tag.
    func sibling(claimedBy record: LANRecord?) -> String? {
        guard let record, let session = try? store.session(),
              LANRecord.tag(record.accountTag, isOf: session.account, day: today())
        else { return nil }
        return approvedSiblings().first { device in
            SigningPublicKey(rawValue: device.key)?.fingerprint.description == record.fingerprint
        }?.id
    }

    /// Addresses found on the LAN for each sibling, as `lan` candidates.
    func lanCandidates() -> [String: [String]] {
        var out: [String: [String]] = [:]
        for service in discovered.values {
            if let device = sibling(claimedBy: service.record) { out[device, default: []].append(service.address) }
        }
        return out
    }

    func today() -> UInt32 { UInt32(now() / 86_400_000) }

    /// The local API's `discover`: every Kith service seen, own devices marked.
    func discover() async throws -> DiscoverResult {
        var entries: [DiscoveredEntry] = []
        let me = identity.publicKey.fingerprint.description
        let myID = (try? store.session())??.deviceID
        for service in discovered.values.sorted(by: { $0.name < $1.name }) {
            let isMe = service.record?.fingerprint == me
            let device = isMe ? myID : sibling(claimedBy: service.record)
            let verified: Bool
            if isMe {
                verified = true  // its own announcement
            } else if let device, case .direct(let candidate)? = await directPaths?.mode(of: device) {
                verified = candidate.address == service.address
            } else {
                verified = false
            }
            entries.append(DiscoveredEntry(name: service.name, address: service.address,
                                           fingerprint: service.record?.fingerprint, kith: service.record != nil,
                                           protocolVersion: service.record?.version, device: device, verified: verified,
                                           isThisDevice: isMe))
        }
        return DiscoverResult(available: lan != nil && lanProblem == nil, problem: lanProblem, services: entries)
    }
}
