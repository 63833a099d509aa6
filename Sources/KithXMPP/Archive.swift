import Foundation

/// A message from the account's own archive (XEP-0313 Message Archive Management, `urn:xmpp:mam:2`):
/// what was written while this client was away, in or out (another client of the account sent
/// it). `archiveID` is the archive's id for it, the same as the XEP-0359 stanza id a live copy
/// carries, so a message is stored once however it came.
public struct XMPPArchivedMessage: Equatable, Sendable {
    public var archiveID: String
    public var from: JID
    public var to: JID?
    public var body: String
    /// The sender's id for it (the `id` of the archived message), which matches a copy this
    /// client stored when it sent it.
    public var stanzaID: String?
    /// When the server archived it (XEP-0203 delay).
    public var stamp: Date?

    public init(archiveID: String, from: JID, to: JID?, body: String, stanzaID: String? = nil, stamp: Date?) {
        (self.archiveID, self.from, self.to, self.body, self.stanzaID, self.stamp) = (archiveID, from, to, body, stanzaID, stamp)
    }
}

/// The end of one page of an archive query: `complete` when nothing follows `last`.
public struct XMPPArchivePage: Equatable, Sendable {
    public var queryID: String
    public var ok: Bool
    public var complete: Bool
    public var last: String?

    public init(queryID: String, ok: Bool, complete: Bool, last: String?) {
        (self.queryID, self.ok, self.complete, self.last) = (queryID, ok, complete, last)
    }
}

extension XMPPNamespace {
    public static let archive = "urn:xmpp:mam:2"
    public static let forward = "urn:xmpp:forward:0"
    public static let delay = "urn:xmpp:delay"
    public static let resultSet = "http://jabber.org/protocol/rsm"
    public static let dataForm = "jabber:x:data"
}

extension XMPPStanza {
    /// One page (at most `max`) of the account's archive after the message `after`, or since
    /// `start` when no message is known yet (XEP-0313 §4.1, §4.3; XEP-0059 paging).
    public static func archiveQuery(id: String, after: String?, start: Date?, max: Int) -> String {
        var fields = [field("FORM_TYPE", XMPPNamespace.archive, hidden: true)]
        if after == nil, let start { fields.append(field("start", Self.timestamp(start))) }
        var set = [XMLElement("max", namespace: XMPPNamespace.resultSet, text: String(max))]
        if let after { set.append(XMLElement("after", namespace: XMPPNamespace.resultSet, text: after)) }
        let query = XMLElement("query", namespace: XMPPNamespace.archive, attributes: ["queryid": id], children: [
            XMLElement("x", namespace: XMPPNamespace.dataForm, attributes: ["type": "submit"], children: fields),
            XMLElement("set", namespace: XMPPNamespace.resultSet, children: set),
        ])
        return XMLElement("iq", namespace: XMPPNamespace.client, attributes: ["type": "set", "id": id], children: [query]).serialized()
    }

    private static func field(_ name: String, _ value: String, hidden: Bool = false) -> XMLElement {
        XMLElement("field", namespace: XMPPNamespace.dataForm, attributes: hidden ? ["var": name, "type": "hidden"] : ["var": name],
                   children: [XMLElement("value", namespace: XMPPNamespace.dataForm, text: value)])
    }

    /// XEP-0082 date-time in UTC, as the archive's `start` takes it.
    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }
}

extension XMPPSession {
    /// Reads an archive result (`<message><result queryid id><forwarded><delay/><message/>…`);
    /// nil unless it answers a query of ours and holds a message with a body.
    static func archived(_ result: XMLElement) -> XMPPArchivedMessage? {
        guard let archiveID = result["id"], !archiveID.isEmpty,
              let forwarded = result.child("forwarded", namespace: XMPPNamespace.forward),
              let message = forwarded.child("message", namespace: XMPPNamespace.client),
              message["type"] != "error", message["type"] != "groupchat",
              let from = message["from"].flatMap({ try? JID(parsing: $0) }),
              let body = message.child("body")?.text, !body.isEmpty
        else { return nil }
        let stamp = forwarded.child("delay", namespace: XMPPNamespace.delay)?["stamp"].flatMap(Self.date)
        return XMPPArchivedMessage(archiveID: archiveID, from: from, to: message["to"].flatMap { try? JID(parsing: $0) },
                                   body: body, stanzaID: message["id"], stamp: stamp)
    }

    static func date(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)
    }
}
