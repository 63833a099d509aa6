/// The stanzas a logged-in Kith client sends (RFC 6121): built here so the wire form has one home.
public enum XMPPStanza {
    /// A chat message (RFC 6121 §5.2.2) with the sender's id, so an echo or an archive copy can be
    /// matched to it.
    public static func message(to: JID, body: String, id: String) -> String {
        XMLElement("message", namespace: XMPPNamespace.client, attributes: ["to": to.description, "type": "chat", "id": id],
                   children: [XMLElement("body", namespace: XMPPNamespace.client, text: body)]).serialized()
    }

    /// Adds or updates a roster item (RFC 6121 §2.3), or removes it (`subscription: .remove`, §2.5).
    public static func rosterSet(_ item: XMPPRosterItem, id: String) -> String {
        let query = XMLElement("query", namespace: XMPPNamespace.roster, children: [item.element])
        return XMLElement("iq", namespace: XMPPNamespace.client, attributes: ["type": "set", "id": id], children: [query]).serialized()
    }

    /// `subscribe` asks to see a contact's presence; `subscribed` approves a request,
    /// `unsubscribed` refuses one (RFC 6121 §3).
    public static func presence(_ type: String, to: JID) -> String {
        XMLElement("presence", namespace: XMPPNamespace.client, attributes: ["to": to.bare.description, "type": type]).serialized()
    }

    /// The end of this side's stream (RFC 6120 §4.4).
    public static let streamEnd = "</stream:stream>"
}
