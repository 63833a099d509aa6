/// A real person as the user sees them: a name the user chose (or the first network's) and the
/// endpoints bound to it, each on one network.
public struct Person: Hashable, Sendable, Codable {
    public let id: UInt64
    public var name: String
    public var endpoints: [Endpoint]
    /// Endpoints a network added since the user last looked (`kith people --new`).
    public var newEndpoints: Set<Endpoint>
    /// Messages to this person go over Kith only, never over a network Kith does not encrypt.
    public var kithOnly = false

    public var isNew: Bool { !newEndpoints.isEmpty }
}

/// "These may be one person": a new endpoint and the person it may belong to. Only the user
/// binds them.
public struct BindingOffer: Hashable, Sendable, Codable {
    public let endpoint: Endpoint
    public let person: UInt64
    public let reason: Reason

    public init(endpoint: Endpoint, person: UInt64, reason: Reason) {
        self.endpoint = endpoint
        self.person = person
        self.reason = reason
    }

    public enum Reason: String, Hashable, Sendable, Codable {
        /// The same normalized id on another network (`carol` and `carol@xmpp.example`).
        case sameID
        /// The network's name for it is the person's name.
        case sameName
    }
}

/// Why the user's request to the book was refused.
public enum PeopleError: Error, Equatable, Sendable {
    case unknownEndpoint(Endpoint)
    case unknownPerson(UInt64)
    case noOffer(Endpoint, person: UInt64)
    /// A person's name must have a visible character.
    case emptyName
    /// Unbinding a person's only endpoint would leave it as it is.
    case onlyEndpoint(Endpoint)
}

/// What changed, for the store and the agent's events.
public enum PeopleChange: Hashable, Sendable {
    case personAdded(UInt64)
    case personRemoved(UInt64)
    case personChanged(UInt64)
    case offered(BindingOffer)
    case offerWithdrawn(BindingOffer)
}

/// The merged contact list (MISSION.md §4): every endpoint of every network belongs to exactly
/// one person; people are merged only by the user (`bind`, or accepting an offer); a pair the
/// user kept apart (an offer rejected, an endpoint unbound) is never offered again; a network's
/// list at each login is the truth for that network's endpoints: what it no longer has is
/// removed, what it newly has is added and marked new, and offered for binding when it looks
/// like a person already here. The failures of earlier tools this rules out: silent merges,
/// merges keyed on display names, syncs that undo an unbind, the same endpoint shown twice.
/// Pure: the agent stores it (it is Codable) and carries out the changes.
public struct PeopleBook: Sendable, Codable, Equatable {
    public private(set) var people: [UInt64: Person] = [:]
    public private(set) var offers: [BindingOffer] = []
    /// Endpoint pairs the user kept apart, each stored smaller first.
    private var apart: Set<Pair> = []
    private var owner: [Endpoint: UInt64] = [:]
    private var nextID: UInt64 = 1

    struct Pair: Hashable, Codable {
        let a: Endpoint
        let b: Endpoint
        init(_ x: Endpoint, _ y: Endpoint) { (a, b) = x < y ? (x, y) : (y, x) }
    }

    public init() {}

    public func person(of endpoint: Endpoint) -> Person? { owner[endpoint].flatMap { people[$0] } }

    /// People in name order (then id), for listings.
    public var sorted: [Person] {
        people.values.sorted { ($0.name.lowercased(), $0.id) < ($1.name.lowercased(), $1.id) }
    }

    // MARK: Networks

    /// A login's whole contact list of `network`: removes what it no longer lists, adds what it
    /// newly lists (marked new, and offered where it looks like a known person). An unchanged
    /// list changes nothing.
    public mutating func sync(_ network: Network, contacts: [NetworkContact]) -> [PeopleChange] {
        let listed = Set(contacts.map(\.endpoint))
        var changes: [PeopleChange] = []
        for endpoint in owner.keys.sorted() where endpoint.network == network && !listed.contains(endpoint) {
            changes += remove(endpoint)
        }
        var seen: Set<Endpoint> = []
        for contact in contacts where contact.endpoint.network == network && seen.insert(contact.endpoint).inserted {
            changes += add(contact)
        }
        return changes
    }

    /// One contact added on a network between logins (a roster push, a new Kith contact).
    public mutating func add(_ contact: NetworkContact) -> [PeopleChange] {
        let endpoint = contact.endpoint
        guard owner[endpoint] == nil else { return [] }
        let id = nextID
        nextID += 1
        let name = contact.displayName.flatMap { Self.cleanName($0) } ?? endpoint.id
        people[id] = Person(id: id, name: name, endpoints: [endpoint], newEndpoints: [endpoint])
        owner[endpoint] = id
        var changes: [PeopleChange] = [.personAdded(id)]
        for other in sorted where other.id != id {
            guard let reason = match(endpoint, name: contact.displayName, other), !isKeptApart(endpoint, other) else { continue }
            let offer = BindingOffer(endpoint: endpoint, person: other.id, reason: reason)
            offers.append(offer)
            changes.append(.offered(offer))
        }
        return changes
    }

    /// One contact gone from its network: its person keeps its other endpoints, or goes with it.
    public mutating func remove(_ endpoint: Endpoint) -> [PeopleChange] {
        guard let id = owner.removeValue(forKey: endpoint), var person = people[id] else { return [] }
        var changes = withdrawOffers { $0.endpoint == endpoint }
        person.endpoints.removeAll { $0 == endpoint }
        person.newEndpoints.remove(endpoint)
        if person.endpoints.isEmpty {
            people[id] = nil
            changes += withdrawOffers { $0.person == id }
            changes.append(.personRemoved(id))
        } else {
            people[id] = person
            changes.append(.personChanged(id))
        }
        return changes
    }

    // MARK: The user's decisions

    /// Binds the endpoints' people into one person named `name` (the person of the first
    /// endpoint keeps its id). Pairs kept apart before are no longer: the user said otherwise.
    public mutating func bind(name: String, _ endpoints: [Endpoint]) throws(PeopleError) -> [PeopleChange] {
        guard let clean = Self.cleanName(name) else { throw .emptyName }
        var ids: [UInt64] = []
        for endpoint in endpoints {
            guard let id = owner[endpoint] else { throw .unknownEndpoint(endpoint) }
            if !ids.contains(id) { ids.append(id) }
        }
        guard let keep = ids.first, var person = people[keep] else { return [] }
        var changes: [PeopleChange] = []
        for id in ids.dropFirst() {
            guard let other = people.removeValue(forKey: id) else { continue }
            for endpoint in other.endpoints { owner[endpoint] = keep }
            person.endpoints += other.endpoints
            person.newEndpoints.formUnion(other.newEndpoints)
            // Either one said "Kith only": the safer answer stays.
            person.kithOnly = person.kithOnly || other.kithOnly
            changes += withdrawOffers { $0.person == id }
            changes.append(.personRemoved(id))
        }
        person.endpoints.sort()
        person.name = clean
        people[keep] = person
        for a in person.endpoints { for b in person.endpoints where a < b { apart.remove(Pair(a, b)) } }
        let owners = owner
        changes += withdrawOffers { owners[$0.endpoint] == $0.person }
        changes.append(.personChanged(keep))
        return changes
    }

    /// Takes `endpoint` out of its person into a person of its own (named by its id), and keeps
    /// the two apart from now on: no later login offers them again.
    public mutating func unbind(_ endpoint: Endpoint) throws(PeopleError) -> [PeopleChange] {
        guard let id = owner[endpoint], var person = people[id] else { throw .unknownEndpoint(endpoint) }
        guard person.endpoints.count > 1 else { throw .onlyEndpoint(endpoint) }
        person.endpoints.removeAll { $0 == endpoint }
        let wasNew = person.newEndpoints.remove(endpoint) != nil
        for other in person.endpoints { apart.insert(Pair(endpoint, other)) }
        people[id] = person
        let newID = nextID
        nextID += 1
        people[newID] = Person(id: newID, name: endpoint.id, endpoints: [endpoint], newEndpoints: wasNew ? [endpoint] : [],
                               kithOnly: person.kithOnly)
        owner[endpoint] = newID
        return [.personChanged(id), .personAdded(newID)]
    }

    public mutating func rename(_ id: UInt64, to name: String) throws(PeopleError) -> [PeopleChange] {
        guard people[id] != nil else { throw .unknownPerson(id) }
        guard let clean = Self.cleanName(name) else { throw .emptyName }
        people[id]!.name = clean
        return [.personChanged(id)]
    }

    /// The user's answer to an offer: accepted binds the endpoint into the person (under the
    /// person's name); rejected keeps them apart for good.
    public mutating func answer(_ endpoint: Endpoint, person id: UInt64, accept: Bool) throws(PeopleError) -> [PeopleChange] {
        guard let offer = offers.first(where: { $0.endpoint == endpoint && $0.person == id }) else {
            throw .noOffer(endpoint, person: id)
        }
        guard accept else {
            for other in people[id]?.endpoints ?? [] { apart.insert(Pair(endpoint, other)) }
            return withdrawOffers { $0 == offer }
        }
        guard let person = people[id], let first = person.endpoints.first else { throw .unknownPerson(id) }
        return try bind(name: person.name, [first, endpoint])
    }

    public mutating func setKithOnly(_ id: UInt64, _ on: Bool) throws(PeopleError) -> [PeopleChange] {
        guard people[id] != nil else { throw .unknownPerson(id) }
        people[id]!.kithOnly = on
        return [.personChanged(id)]
    }

    /// The user has seen what is new (of one person, or of all).
    public mutating func markSeen(_ id: UInt64? = nil) -> [PeopleChange] {
        let ids = id.map { [$0] } ?? Array(people.keys.sorted())
        return ids.compactMap { id in
            guard people[id]?.isNew == true else { return nil }
            people[id]!.newEndpoints = []
            return .personChanged(id)
        }
    }

    // MARK: Rules

    private func match(_ endpoint: Endpoint, name: String?, _ person: Person) -> BindingOffer.Reason? {
        if person.endpoints.contains(where: { $0.network != endpoint.network && $0.matchKey == endpoint.matchKey }) {
            return .sameID
        }
        if let name = name.flatMap(Self.cleanName), name.lowercased() == person.name.lowercased() { return .sameName }
        return nil
    }

    private func isKeptApart(_ endpoint: Endpoint, _ person: Person) -> Bool {
        person.endpoints.contains { apart.contains(Pair(endpoint, $0)) }
    }

    private mutating func withdrawOffers(where gone: (BindingOffer) -> Bool) -> [PeopleChange] {
        let withdrawn = offers.filter(gone)
        offers.removeAll(where: gone)
        return withdrawn.map { .offerWithdrawn($0) }
    }

    /// A name with its surrounding white space trimmed; nil when nothing visible is left.
    static func cleanName(_ name: String) -> String? {
        let trimmed = name.drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed()
        let text = String(trimmed)
        return text.isEmpty || text.unicodeScalars.allSatisfy({ $0.value < 0x20 || $0.value == 0x7f }) ? nil : text
    }
}
