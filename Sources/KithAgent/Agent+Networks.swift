import Foundation
import KithAPI
import KithCore
import KithStore
import KithXMPP
import NIOCore

/// The profile's networks (Protocol/local-api.md §Networks): its Kith accounts, which `kith
/// login` adds, and its XMPP accounts, which `kith networks add xmpp:…` adds once they signed in.
extension Agent {
    /// Starts every stored XMPP account.
    func startNetworks() async throws {
        for record in try store.xmppNetworks() {
            let network = try XMPPNetwork(record: record, store: store, logger: logger, group: group, now: now)
            xmppNetworks.append(network)
            try await network.start()
        }
    }

    func networkList() async -> NetworksResult {
        var entries: [NetworkEntry] = []
        for account in accounts {
            let summary = await account.context.summary()
            let contacts = (try? await account.context.contacts().contacts.count) ?? 0
            let state = summary.connected ? "online" : summary.deviceID == nil ? "failed" : summary.lastError == nil ? "connecting" : "waiting"
            let problem = summary.connected ? nil : summary.deviceID == nil
                ? "logged out: `kith login INVITE --account \(account.name)` signs in again" : summary.lastError
            entries.append(NetworkEntry(address: "kith:\(account.owner)", kind: "kith", state: state, problem: problem,
                                        server: summary.server ?? "", contacts: contacts))
        }
        for network in xmppNetworks { entries.append(await network.entry()) }
        return NetworksResult(networks: entries)
    }

    /// Every network signs in now; the answer comes once none is still connecting (15 s at most).
    func networksLogin() async throws -> NetworksResult {
        guard !accounts.isEmpty || !xmppNetworks.isEmpty else {
            throw AgentError(.notLoggedIn, "this profile has no networks yet: `kith login INVITE --account A` or `kith networks add xmpp:NAME@DOMAIN`")
        }
        for account in accounts { await account.context.signInNow() }
        for network in xmppNetworks { await network.signInNow() }
        var list = await networkList()
        for _ in 0..<150 where list.networks.contains(where: { $0.state == "connecting" }) {
            try await Task.sleep(for: .milliseconds(100))
            list = await networkList()
        }
        return list
    }

    /// Signs in to the XMPP account first: only an account that signed in is stored (with its
    /// password, in the profile's store) and kept signed in from then on.
    func networkAdd(_ request: NetworkAddRequest) async throws -> NetworkEntry {
        let jid = try Self.xmppAccount(request.address)
        var host = jid.domain, port = 5222
        if let server = request.server {
            do {
                let parsed = try HostPort(parsing: server.contains(":") ? server : server + ":5222")
                (host, port) = (parsed.host, parsed.port)
            } catch {
                throw AgentError(.invalidRequest, "--server is HOST or HOST:PORT: \(error)")
            }
        }
        var certificate: String?
        if let text = request.certificate {
            guard let pin = CertificateFingerprint(text) else {
                throw AgentError(.invalidRequest, "--certificate is a SHA-256 fingerprint (64 hex digits, colons allowed), not \(text)")
            }
            certificate = pin.description
        }
        let existing = xmppNetworks.first { $0.account == jid }
        let record = AgentStore.XMPPNetworkRecord(jid: jid.description, host: host, port: port, password: request.password,
                                                  certificate: certificate, addedMillis: existing?.record.addedMillis ?? now())
        let version = try store.xmppRoster(network: record.jid).version
        let login: XMPPConnection.Login
        do {
            login = try await XMPPNetwork.signIn(record, rosterVersion: version, group: group)
        } catch let error as XMPPError {
            throw await Self.refusal(error, record: record, group: group)
        } catch {
            throw AgentError(.serverUnreachable, "could not reach \(host):\(port): \(error)")
        }
        if let existing {
            await existing.stop()
            xmppNetworks.removeAll { $0 === existing }
        }
        try store.saveXMPPNetwork(record)
        let network = try XMPPNetwork(record: record, store: store, logger: logger, group: group, now: now)
        xmppNetworks.append(network)
        try await network.start(with: login)
        logger.info("added the network xmpp:\(jid)")
        return await network.entry()
    }

    func networkRemove(_ request: NetworkRemoveRequest) async throws -> EmptyResult {
        if request.address.hasPrefix("kith:") {
            throw AgentError(.invalidRequest, "a Kith account leaves this device with `kith logout --account ACCOUNT`")
        }
        let jid = try Self.xmppAccount(request.address)
        guard let network = xmppNetworks.first(where: { $0.account == jid }) else {
            throw AgentError(.invalidRequest, "xmpp:\(jid) is not a network of this profile")
        }
        await network.stop()
        xmppNetworks.removeAll { $0 === network }
        try store.removeXMPPNetwork(jid: jid.description)
        logger.info("removed the network xmpp:\(jid)")
        return EmptyResult()
    }

    /// `xmpp:alice@example.org` (the `xmpp:` is optional) as a bare JID.
    static func xmppAccount(_ address: String) throws -> JID {
        let text = address.hasPrefix("xmpp:") ? String(address.dropFirst(5)) : address
        guard let jid = try? JID(parsing: text), !jid.local.isEmpty, jid.isBare else {
            throw AgentError(.invalidRequest, "an XMPP account is xmpp:NAME@DOMAIN, not \(address)")
        }
        return jid
    }

    /// The user's answer to a sign-in that failed. An untrusted certificate is shown by its
    /// fingerprint, for the user to compare with the server's admin and pin.
    static func refusal(_ error: XMPPError, record: AgentStore.XMPPNetworkRecord, group: any EventLoopGroup) async -> AgentError {
        let reason = XMPPNetwork.describe(error)
        switch error {
        case .authenticationFailed:
            return AgentError(.serverRefused, "xmpp:\(record.jid): \(reason)")
        case .tlsFailed:
            guard let presented = try? await XMPPConnection.presentedCertificate(host: record.host, port: record.port,
                                                                                 domain: try JID(parsing: record.jid).domain, group: group)
            else { return AgentError(.serverRefused, "xmpp:\(record.jid): \(reason)") }
            return AgentError(.serverRefused, """
                xmpp:\(record.jid): \(reason). It presented the certificate \(presented); if the server's admin \
                confirms that fingerprint, add the network again with --certificate \(presented)
                """)
        case .closed, .timedOut:
            return AgentError(.serverUnreachable, "xmpp:\(record.jid) at \(record.host):\(record.port): \(reason)")
        default:
            return AgentError(.serverRefused, "xmpp:\(record.jid): \(reason)")
        }
    }
}
