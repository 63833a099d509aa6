/// One contact of an XMPP roster (RFC 6121 §2.1.2), as the server keeps it.
public struct XMPPRosterItem: Equatable, Sendable {
    public enum Subscription: String, Sendable {
        case none, to, from, both
        /// Only in a roster push: the item is gone.
        case remove
    }

    public var jid: JID
    public var name: String?
    public var subscription: Subscription
    /// `ask='subscribe'`: we asked to see their presence and wait for their answer.
    public var pendingOut: Bool
    public var groups: [String]

    public init(jid: JID, name: String? = nil, subscription: Subscription = .none, pendingOut: Bool = false,
                groups: [String] = []) {
        self.jid = jid
        self.name = name
        self.subscription = subscription
        self.pendingOut = pendingOut
        self.groups = groups
    }

    /// Reads a `<item/>`; nil for one without a valid bare JID or with an unknown subscription
    /// (dropped: the roster is untrusted input like every other stanza).
    init?(_ element: XMLElement) {
        guard element.name == "item", let text = element["jid"], let jid = try? JID(parsing: text), jid.isBare else { return nil }
        guard let subscription = Subscription(rawValue: element["subscription"] ?? "none") else { return nil }
        self.init(jid: jid, name: element["name"].flatMap { $0.isEmpty ? nil : $0 }, subscription: subscription,
                  pendingOut: element["ask"] == "subscribe",
                  groups: element.children("group").map(\.text).filter { !$0.isEmpty })
    }

    var element: XMLElement {
        var attributes = ["jid": jid.description]
        if let name { attributes["name"] = name }
        if subscription == .remove { attributes["subscription"] = "remove" }
        return XMLElement("item", namespace: XMPPNamespace.roster, attributes: attributes,
                          children: groups.map { XMLElement("group", namespace: XMPPNamespace.roster, text: $0) })
    }
}

/// The server's answer to the roster request of a login (RFC 6121 §2.6.3).
public enum XMPPRosterAnswer: Equatable, Sendable {
    /// The version we sent is current: nothing came but the empty result.
    case unchanged
    /// The whole roster, with the version to send next time (nil: the server keeps no versions).
    case full([XMPPRosterItem], version: String?)
}

extension XMPPRosterAnswer {
    /// The version to send at the next login, or nil to ask for the whole roster again. An empty
    /// roster's version is not kept: Prosody 0.12 calls a roster never saved version 1, and its
    /// first saved version is 1 too, so a client holding that 1 would be told "unchanged" after
    /// its first contact was added while it was away. An empty roster costs nothing to fetch.
    public func versionToKeep(previous: String?) -> String? {
        switch self {
        case .unchanged: return previous
        case .full(let items, let version): return items.isEmpty ? nil : version
        }
    }
}
