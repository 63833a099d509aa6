import Foundation
import KithAPI
import KithCore
import KithStore
import KithXMPP

/// Messages to people over whichever network they are on (MISSION.md §4), and one conversation
/// per person over all of their endpoints. `PersonRoute` decides the endpoint; this carries the
/// message out on that network: a Kith account's context, or an XMPP account.
extension Agent {
    static let xmppWarning = "sent over XMPP: not end-to-end encrypted by Kith; the XMPP server can read it"

    /// With XMPP networks in the profile and no account named, `to` is looked up among people
    /// first (a person's name, or an endpoint written out), then as today among the default
    /// account's devices and contacts. A profile of Kith accounts only sends as it always did.
    func send(_ request: SendRequest, account: String?) async throws -> SendResult {
        if account == nil, !xmppNetworks.isEmpty, let routed = try await sendToPerson(request) { return routed }
        return try await context(for: account).send(request)
    }

    private func sendToPerson(_ request: SendRequest) async throws -> SendResult? {
        let (book, presence) = try await currentPeople()
        let endpoint: Endpoint
        if request.to.hasPrefix("xmpp:") || request.to.hasPrefix("kith:") {
            endpoint = try Self.endpoint(request.to, in: book)
            if book.person(of: endpoint)?.kithOnly == true, !endpoint.network.isKith {
                throw AgentError(.notPermitted, "\(book.person(of: endpoint)!.name) is set to Kith only; nothing was sent")
            }
        } else {
            let named = book.sorted.filter { $0.name.lowercased() == request.to.lowercased() }
            guard let person = named.first else { return nil }
            guard named.count == 1 else {
                throw AgentError(.invalidRequest, "several people are called \(request.to): rename one (`kith people rename #ID NAME`)")
            }
            let reachability = presence.mapValues { $0 ? Reachability.online : .offline }
            guard let chosen = PersonRoute.choose(person, reachability: reachability, kithOnly: person.kithOnly) else {
                throw AgentError(.notPermitted, "\(person.name) has no Kith endpoint and is set to Kith only; nothing was sent")
            }
            endpoint = chosen
        }
        switch endpoint.network {
        case .kith(let server, let account):
            guard let held = accounts.first(where: { $0.owner == "\(account)@\(server)" }) else {
                throw AgentError(.notLoggedIn, "this device is not logged in to \(account) any more")
            }
            var result = try await held.context.send(SendRequest(to: endpoint.id, text: request.text))
            result.network = endpoint.network.description
            return result
        case .xmpp(let jid):
            guard let network = xmppNetworks.first(where: { $0.record.jid == jid }) else {
                throw AgentError(.notLoggedIn, "xmpp:\(jid) is not a network of this profile any more")
            }
            try MessageText.check(request.text)
            let sent = try await network.send(to: try JID(parsing: endpoint.id), body: request.text)
            return SendResult(noteID: sent.stanzaID ?? "", to: EndpointName.short(endpoint), relayed: true,
                              network: endpoint.network.description, warning: Self.xmppWarning)
        }
    }

    /// The person's messages over every endpoint, oldest first, each with the network that carried
    /// it. Kith keeps the messages it received; over XMPP both ways.
    func conversation(_ request: ConversationRequest) async throws -> ConversationResult {
        let (book, presence) = try await currentPeople()
        let id = try Self.person(request.person, in: book)
        let person = book.people[id]!
        let limit = max(1, min(request.limit ?? 100, 10_000))
        var entries: [ConversationEntry] = []
        for endpoint in person.endpoints {
            let address = EndpointName.short(endpoint), network = endpoint.network.description
            switch endpoint.network {
            case .kith(let server, let account):
                guard let held = accounts.first(where: { $0.owner == "\(account)@\(server)" }) else { continue }
                let inbox = try await held.context.inbox(InboxRequest(limit: limit, contact: endpoint.id))
                entries += inbox.messages.map {
                    ConversationEntry(atMillis: $0.sentAtMillis, outgoing: false, endpoint: address, network: network, text: $0.text,
                                      endToEnd: true, code: $0.code)
                }
            case .xmpp(let jid):
                entries += try store.xmppMessages(network: jid, peer: endpoint.id, limit: limit).map {
                    ConversationEntry(atMillis: $0.atMillis, outgoing: $0.outgoing, endpoint: address, network: network, text: $0.body,
                                      endToEnd: false)
                }
            }
        }
        entries.sort { $0.atMillis < $1.atMillis }
        let entry = Self.result(book, people: [person], presence: presence).people[0]
        return ConversationResult(person: entry, messages: Array(entries.suffix(limit)))
    }

    /// What the profile's XMPP accounts received, newest `limit`, oldest first.
    func xmppInbox(_ request: XMPPInboxRequest) throws -> XMPPInboxResult {
        let limit = max(1, min(request.limit ?? 100, 10_000))
        return XMPPInboxResult(messages: try store.xmppReceived(limit: limit).map {
            ConversationEntry(atMillis: $0.atMillis, outgoing: false, endpoint: "xmpp:\($0.peer)", network: "xmpp:\($0.network)",
                              text: $0.body, endToEnd: false)
        })
    }

    func peopleKithOnly(_ request: PeopleKithOnlyRequest) async throws -> PeopleResult {
        try await changePeople { book in try book.setKithOnly(try Self.person(request.person, in: book), request.on) }
    }
}
