/// One of the user's own accounts on one network: the list of contacts a login brings is that
/// network's. A Kith account is named by its server's stable name (the fingerprint of the
/// server's key, which survives an address change) and the account; an XMPP account by its
/// normalized bare JID.
public enum Network: Hashable, Sendable, Codable, Comparable, CustomStringConvertible {
    case kith(server: String, account: String)
    case xmpp(jid: String)

    public var isKith: Bool { if case .kith = self { true } else { false } }

    public var description: String {
        switch self {
        case .kith(let server, let account): "kith:\(account)@\(server)"
        case .xmpp(let jid): "xmpp:\(jid)"
        }
    }
}

/// A contact as one network knows it: the network it is on (ours) and its id there (a Kith
/// account name, or a normalized bare JID). Stable ids only, never display names: a binding
/// outlives a contact renaming itself.
public struct Endpoint: Hashable, Sendable, Codable, Comparable, CustomStringConvertible {
    public let network: Network
    public let id: String

    public init(network: Network, id: String) {
        self.network = network
        self.id = id
    }

    /// What "the same normalized id on another network" compares: a Kith account name, or a
    /// JID's local part, lower-cased (`carol` on Kith and `carol@xmpp.example` match).
    public var matchKey: String {
        switch network {
        case .kith: return id.lowercased()
        case .xmpp:
            guard let at = id.firstIndex(of: "@") else { return id.lowercased() }
            return String(id[..<at]).lowercased()
        }
    }

    public static func < (a: Endpoint, b: Endpoint) -> Bool { (a.network, a.id) < (b.network, b.id) }

    public var description: String {
        switch network {
        case .kith(let server, let account): "kith:\(id) (as \(account)@\(server))"
        case .xmpp(let jid): "xmpp:\(id) (as \(jid))"
        }
    }
}

/// A contact in one network's list at a login or a push: its endpoint and the name the network
/// shows for it (an XMPP roster name; a Kith account's own name), used only to name a new person
/// and to find a person it may be.
public struct NetworkContact: Hashable, Sendable {
    public let endpoint: Endpoint
    public let displayName: String?

    public init(_ endpoint: Endpoint, displayName: String? = nil) {
        self.endpoint = endpoint
        self.displayName = displayName
    }
}
