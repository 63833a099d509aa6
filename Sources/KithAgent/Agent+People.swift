import Foundation
import KithAPI
import KithCore
import KithStore
import KithXMPP

/// The merged contacts over the profile's networks (Protocol/local-api.md §People). Before each
/// answer every network's list as it last said — a Kith account's contacts, an XMPP account's
/// roster — is the truth for that network (`PeopleBook.sync`), and a network that left the
/// profile takes its contacts with it. The book decides; this carries it out and stores it.
extension Agent {
    func people(_ request: PeopleRequest) async throws -> PeopleResult {
        var (book, presence) = try await currentPeople()
        var shown = book.sorted
        if request.new == true {
            shown = shown.filter(\.isNew)
            if !book.markSeen().isEmpty { try save(book) }
        }
        var result = Self.result(book, people: shown, presence: presence)
        result.requests = await subscriptionRequests()
        return result
    }

    /// Every XMPP account's waiting subscription requests.
    func subscriptionRequests() async -> [SubscriptionRequestEntry] {
        var entries: [SubscriptionRequestEntry] = []
        for network in xmppNetworks {
            let address = network.address
            entries += await network.requests.sorted { $0.description < $1.description }
                .map { SubscriptionRequestEntry(address: "xmpp:\($0)", network: address) }
        }
        return entries
    }

    /// `kith people allow|deny xmpp:JID`.
    func subscriptionAnswer(_ request: SubscriptionAnswerRequest) async throws -> PeopleResult {
        let jid = try Self.xmppAccount(request.address)
        var asked: [XMPPNetwork] = []
        for network in xmppNetworks where await network.requests.contains(jid) {
            if request.network == nil || request.network == network.address || request.network == network.record.jid { asked.append(network) }
        }
        guard let network = asked.first else {
            throw AgentError(.invalidRequest, "xmpp:\(jid) has no request waiting (`kith people` lists them)")
        }
        guard asked.count == 1 else {
            throw AgentError(.invalidRequest, "xmpp:\(jid) asked several accounts: name one with --network ("
                             + asked.map(\.address).joined(separator: ", ") + ")")
        }
        try await network.answer(request: jid, allow: request.allow)
        return try await people(PeopleRequest())
    }

    func peopleBind(_ request: PeopleBindRequest) async throws -> PeopleResult {
        try await changePeople { book in
            let endpoints = try request.endpoints.map { try Self.endpoint($0, in: book) }
            guard !endpoints.isEmpty else { throw AgentError(.invalidRequest, "name at least one endpoint to bind") }
            return try book.bind(name: request.name, endpoints)
        }
    }

    func peopleUnbind(_ request: PeopleUnbindRequest) async throws -> PeopleResult {
        try await changePeople { book in try book.unbind(try Self.endpoint(request.endpoint, in: book)) }
    }

    func peopleRename(_ request: PeopleRenameRequest) async throws -> PeopleResult {
        try await changePeople { book in try book.rename(try Self.person(request.person, in: book), to: request.name) }
    }

    func peopleAnswer(_ request: PeopleAnswerRequest) async throws -> PeopleResult {
        try await changePeople { book in
            try book.answer(try Self.endpoint(request.endpoint, in: book), person: try Self.person(request.person, in: book),
                            accept: request.accept)
        }
    }

    /// Runs the user's decision on the current book, stores it, answers with the whole list.
    func changePeople(_ decide: (inout PeopleBook) throws -> [PeopleChange]) async throws -> PeopleResult {
        var (book, presence) = try await currentPeople()
        do {
            _ = try decide(&book)
        } catch let error as PeopleError {
            throw AgentError(.invalidRequest, Self.describe(error, in: book))
        }
        try save(book)
        var result = Self.result(book, people: book.sorted, presence: presence)
        result.requests = await subscriptionRequests()
        return result
    }

    /// The book brought up to date with every network's list, stored when that changed it, and
    /// the presence each network knows (endpoints of networks not signed in have none).
    func currentPeople() async throws -> (PeopleBook, [Endpoint: Bool]) {
        var book = try peopleBook ?? store.peopleBook().map { try JSONDecoder().decode(PeopleBook.self, from: $0) } ?? PeopleBook()
        let before = book
        var presence: [Endpoint: Bool] = [:]
        var networks: Set<Network> = []
        for account in accounts {
            let network = Network.kith(server: String(account.owner.split(separator: "@").last ?? ""), account: account.name)
            networks.insert(network)
            let connected = await account.context.summary().connected
            // A list that cannot be read is not an empty list: syncing it as one would undo bindings.
            guard let contacts = try? await account.context.contacts().contacts.filter({ $0.state == "contact" }) else { continue }
            _ = book.sync(network, contacts: contacts.map { NetworkContact(Endpoint(network: network, id: $0.account)) })
            if connected {
                for contact in contacts { presence[Endpoint(network: network, id: contact.account)] = contact.onlineDevices > 0 }
            }
        }
        for xmpp in xmppNetworks {
            let (list, online) = await xmpp.contacts()
            let network = Network.xmpp(jid: xmpp.record.jid)
            networks.insert(network)
            _ = book.sync(network, contacts: list)
            if let online { for contact in list { presence[contact.endpoint] = online.contains(contact.endpoint.id) } }
        }
        let gone = Set(book.people.values.flatMap(\.endpoints).map(\.network)).subtracting(networks)
        for network in gone.sorted() { _ = book.sync(network, contacts: []) }
        if book != before { try save(book) } else { peopleBook = book }
        return (book, presence)
    }

    private func save(_ book: PeopleBook) throws {
        try store.savePeopleBook(try JSONEncoder().encode(book))
        peopleBook = book
    }

    static func result(_ book: PeopleBook, people: [Person], presence: [Endpoint: Bool]) -> PeopleResult {
        let entries = people.map { person in
            PersonEntry(id: person.id, name: person.name, endpoints: person.endpoints.map { endpoint in
                PersonEndpoint(address: EndpointName.short(endpoint), network: endpoint.network.description,
                               presence: presence[endpoint].map { $0 ? "online" : "offline" },
                               new: person.newEndpoints.contains(endpoint))
            }, new: person.isNew, kithOnly: person.kithOnly)
        }
        let offers = book.offers.map { offer in
            OfferEntry(endpoint: EndpointName.short(offer.endpoint), network: offer.endpoint.network.description, person: offer.person,
                       personName: book.people[offer.person]?.name ?? "", reason: offer.reason.rawValue)
        }
        return PeopleResult(people: entries, offers: offers)
    }

    static func endpoint(_ text: String, in book: PeopleBook) throws -> Endpoint {
        do {
            return try EndpointName.resolve(text, among: book.people.values.flatMap(\.endpoints))
        } catch {
            throw AgentError(.invalidRequest, error.description)
        }
    }

    /// `#ID`, or a person's name (case ignored) when one person has it.
    static func person(_ text: String, in book: PeopleBook) throws -> UInt64 {
        if text.hasPrefix("#"), let id = UInt64(text.dropFirst()), book.people[id] != nil { return id }
        let named = book.sorted.filter { $0.name.lowercased() == text.lowercased() }
        switch named.count {
        case 1: return named[0].id
        case 0: throw AgentError(.invalidRequest, "no person is called \(text) (`kith people` lists them)")
        default: throw AgentError(.invalidRequest, "several people are called \(text): name one by its id, "
                                  + named.map { "#\($0.id)" }.joined(separator: ", "))
        }
    }

    static func describe(_ error: PeopleError, in book: PeopleBook) -> String {
        switch error {
        case .unknownEndpoint(let endpoint): "\(EndpointName.short(endpoint)) is not a contact on any network of this profile"
        case .unknownPerson(let id): "no person #\(id)"
        case .noOffer(let endpoint, let id): "there is no offer of \(EndpointName.short(endpoint)) for \(book.people[id]?.name ?? "#\(id)")"
        case .emptyName: "a person's name needs a visible character"
        case .onlyEndpoint(let endpoint): "\(EndpointName.short(endpoint)) is its person's only endpoint: nothing to unbind"
        }
    }
}
