/// The merged contacts (Protocol/local-api.md §People): persons, each with its endpoints on the
/// profile's networks; offers to bind an endpoint into a person, which only the user accepts.
/// Every method answers with the whole list as it is after the change.

/// The persons and the open offers, each network's contacts brought up to date first.
public struct PeopleRequest: APIRequest {
    public typealias Result = PeopleResult
    public static let method = AgentMethod.people
    /// Only the persons with endpoints added since the user last looked; they are marked seen.
    public var new: Bool?
    public init(new: Bool? = nil) { self.new = new }
}

/// Binds the endpoints' persons into one person named `name`.
public struct PeopleBindRequest: APIRequest {
    public typealias Result = PeopleResult
    public static let method = AgentMethod.peopleBind
    public var name: String
    /// `kith:ACCOUNT`, `xmpp:NAME@DOMAIN` (see EndpointName).
    public var endpoints: [String]
    public init(name: String, endpoints: [String]) { (self.name, self.endpoints) = (name, endpoints) }
}

/// Takes an endpoint out of its person into a person of its own; the two are not offered again.
public struct PeopleUnbindRequest: APIRequest {
    public typealias Result = PeopleResult
    public static let method = AgentMethod.peopleUnbind
    public var endpoint: String
    public init(endpoint: String) { self.endpoint = endpoint }
}

public struct PeopleRenameRequest: APIRequest {
    public typealias Result = PeopleResult
    public static let method = AgentMethod.peopleRename
    /// The person's name (case ignored) or `#ID`.
    public var person: String
    public var name: String
    public init(person: String, name: String) { (self.person, self.name) = (person, name) }
}

/// Accepts (binds) or rejects (keeps apart for good) the offer of `endpoint` into `person`.
public struct PeopleAnswerRequest: APIRequest {
    public typealias Result = PeopleResult
    public static let method = AgentMethod.peopleAnswer
    public var endpoint: String
    public var person: String
    public var accept: Bool
    public init(endpoint: String, person: String, accept: Bool) { (self.endpoint, self.person, self.accept) = (endpoint, person, accept) }
}

/// Messages to the person go over Kith only (`on`), or over whichever network they are on.
public struct PeopleKithOnlyRequest: APIRequest {
    public typealias Result = PeopleResult
    public static let method = AgentMethod.peopleKithOnly
    public var person: String
    public var on: Bool
    public init(person: String, on: Bool) { (self.person, self.on) = (person, on) }
}

/// One conversation with a person over all of their endpoints, oldest first.
public struct ConversationRequest: APIRequest {
    public typealias Result = ConversationResult
    public static let method = AgentMethod.conversation
    public var person: String
    /// Default 100.
    public var limit: Int?
    public init(person: String, limit: Int? = nil) { (self.person, self.limit) = (person, limit) }
}

public struct ConversationResult: Codable, Sendable, Equatable {
    public var person: PersonEntry
    public var messages: [ConversationEntry]
    public init(person: PersonEntry, messages: [ConversationEntry]) { (self.person, self.messages) = (person, messages) }
}

/// One message of a conversation, with the endpoint and network that carried it.
public struct ConversationEntry: Codable, Sendable, Equatable {
    public var atMillis: UInt64
    /// True for a message this profile sent.
    public var outgoing: Bool
    /// The person's endpoint (`kith:bob`, `xmpp:bob@example.org`).
    public var endpoint: String
    /// The profile's network that carried it.
    public var network: String
    public var text: String
    /// Kith encrypted it end to end (false over XMPP).
    public var endToEnd: Bool
    /// A Kith message's server code (`kith read CODE`).
    public var code: UInt64?
    public init(atMillis: UInt64, outgoing: Bool, endpoint: String, network: String, text: String, endToEnd: Bool, code: UInt64? = nil) {
        (self.atMillis, self.outgoing, self.endpoint, self.network, self.text, self.endToEnd, self.code) =
            (atMillis, outgoing, endpoint, network, text, endToEnd, code)
    }
}

/// Answers an XMPP subscription request: `allow` lets them see the account's presence (and asks
/// for theirs), otherwise they are told no.
public struct SubscriptionAnswerRequest: APIRequest {
    public typealias Result = PeopleResult
    public static let method = AgentMethod.subscriptionAnswer
    /// `xmpp:NAME@DOMAIN`, as `requests` lists it.
    public var address: String
    public var allow: Bool
    /// The profile's XMPP account asked, when several were (`xmpp:alice@example.org`).
    public var network: String?
    public init(address: String, allow: Bool, network: String? = nil) { (self.address, self.allow, self.network) = (address, allow, network) }
}

/// The newest messages received over every XMPP account of the profile, oldest first: the XMPP
/// part of `kith inbox`.
public struct XMPPInboxRequest: APIRequest {
    public typealias Result = XMPPInboxResult
    public static let method = AgentMethod.xmppInbox
    /// Default 100.
    public var limit: Int?
    public init(limit: Int? = nil) { self.limit = limit }
}

public struct XMPPInboxResult: Codable, Sendable, Equatable {
    public var messages: [ConversationEntry]
    public init(messages: [ConversationEntry]) { self.messages = messages }
}

public struct PeopleResult: Codable, Sendable, Equatable {
    public var people: [PersonEntry]
    public var offers: [OfferEntry]
    /// XMPP subscription requests waiting for the user's answer.
    public var requests: [SubscriptionRequestEntry]
    public init(people: [PersonEntry], offers: [OfferEntry], requests: [SubscriptionRequestEntry] = []) {
        (self.people, self.offers, self.requests) = (people, offers, requests)
    }
}

/// Someone who asked to see an XMPP account's presence.
public struct SubscriptionRequestEntry: Codable, Sendable, Equatable {
    /// `xmpp:carol@example.org`
    public var address: String
    /// The profile's XMPP account they asked.
    public var network: String
    public init(address: String, network: String) { (self.address, self.network) = (address, network) }
}

public struct PersonEntry: Codable, Sendable, Equatable {
    public var id: UInt64
    public var name: String
    public var endpoints: [PersonEndpoint]
    /// Some endpoint was added since the user last looked.
    public var new: Bool
    /// Messages go over Kith only.
    public var kithOnly: Bool
    public init(id: UInt64, name: String, endpoints: [PersonEndpoint], new: Bool, kithOnly: Bool = false) {
        (self.id, self.name, self.endpoints, self.new, self.kithOnly) = (id, name, endpoints, new, kithOnly)
    }
}

/// One endpoint of a person, and how it stands on its network.
public struct PersonEndpoint: Codable, Sendable, Equatable {
    /// `kith:bob`, `xmpp:bob@example.org`.
    public var address: String
    /// The profile's network it is a contact of: `kith:alice@SERVERKEY`, `xmpp:alice@example.org`.
    public var network: String
    /// `online`, `offline`, or nil when the network does not say (not signed in).
    public var presence: String?
    public var new: Bool
    public init(address: String, network: String, presence: String?, new: Bool) {
        (self.address, self.network, self.presence, self.new) = (address, network, presence, new)
    }
}

public struct OfferEntry: Codable, Sendable, Equatable {
    public var endpoint: String
    public var network: String
    public var person: UInt64
    public var personName: String
    /// `sameID` (the same normalized id on another network) or `sameName`.
    public var reason: String
    public init(endpoint: String, network: String, person: UInt64, personName: String, reason: String) {
        (self.endpoint, self.network, self.person, self.personName, self.reason) = (endpoint, network, person, personName, reason)
    }
}
