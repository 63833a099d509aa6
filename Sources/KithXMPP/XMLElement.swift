/// One XML element of an XMPP stream: a stanza, or a part of one. Names are split into the
/// namespace they are in and their local name, as XMPP decides everything by the pair
/// (`jabber:iq:roster` + `query`), never by a prefix a server happened to choose.
public struct XMLElement: Sendable, Equatable {
    public var name: String
    public var namespace: String
    /// Attributes without a namespace, by name; `xml:lang` is kept as `xml:lang`.
    public var attributes: [String: String]
    public var children: [XMLElement]
    /// The element's own character data, concatenated (XMPP has no mixed content it needs).
    public var text: String

    public init(_ name: String, namespace: String, attributes: [String: String] = [:],
                children: [XMLElement] = [], text: String = "") {
        self.name = name
        self.namespace = namespace
        self.attributes = attributes
        self.children = children
        self.text = text
    }

    public subscript(attribute: String) -> String? { attributes[attribute] }

    /// The first child of that name and namespace (the parent's namespace when `namespace` is nil).
    public func child(_ name: String, namespace: String? = nil) -> XMLElement? {
        let ns = namespace ?? self.namespace
        return children.first { $0.name == name && $0.namespace == ns }
    }

    public func children(_ name: String, namespace: String? = nil) -> [XMLElement] {
        let ns = namespace ?? self.namespace
        return children.filter { $0.name == name && $0.namespace == ns }
    }

    /// The element as XML text, declaring its namespace where it differs from `parentNamespace`
    /// (a stanza inside `jabber:client` carries no `xmlns` of its own).
    public func serialized(parentNamespace: String = XMPPNamespace.client) -> String {
        var out = "<" + name
        if namespace != parentNamespace { out += " xmlns='\(XMLEscape.attribute(namespace))'" }
        for key in attributes.keys.sorted() {
            out += " \(key)='\(XMLEscape.attribute(attributes[key]!))'"
        }
        if children.isEmpty && text.isEmpty { return out + "/>" }
        out += ">" + XMLEscape.text(text)
        for child in children { out += child.serialized(parentNamespace: namespace) }
        return out + "</\(name)>"
    }
}

/// Escaping for what Kith writes: the five predefined entities only.
public enum XMLEscape {
    public static func text(_ s: String) -> String {
        guard s.contains(where: { $0 == "&" || $0 == "<" || $0 == ">" }) else { return s }
        return s.replacingAll(["&": "&amp;", "<": "&lt;", ">": "&gt;"])
    }

    public static func attribute(_ s: String) -> String {
        guard s.contains(where: { "&<>'\"".contains($0) }) else { return s }
        return s.replacingAll(["&": "&amp;", "<": "&lt;", ">": "&gt;", "'": "&apos;", "\"": "&quot;"])
    }
}

extension String {
    fileprivate func replacingAll(_ table: [Character: String]) -> String {
        var out = ""
        out.reserveCapacity(utf8.count + 16)
        for c in self {
            if let r = table[c] { out += r } else { out.append(c) }
        }
        return out
    }
}

/// The namespaces of the subset Kith speaks (RFC 6120, RFC 6121, XEP-0199, XEP-0313, XEP-0359).
public enum XMPPNamespace {
    public static let stream = "http://etherx.jabber.org/streams"
    public static let client = "jabber:client"
    public static let tls = "urn:ietf:params:xml:ns:xmpp-tls"
    public static let sasl = "urn:ietf:params:xml:ns:xmpp-sasl"
    public static let bind = "urn:ietf:params:xml:ns:xmpp-bind"
    public static let session = "urn:ietf:params:xml:ns:xmpp-session"
    public static let stanzas = "urn:ietf:params:xml:ns:xmpp-stanzas"
    public static let streams = "urn:ietf:params:xml:ns:xmpp-streams"
    public static let roster = "jabber:iq:roster"
    public static let rosterVersioning = "urn:xmpp:features:rosterver"
    public static let ping = "urn:xmpp:ping"
    public static let xml = "http://www.w3.org/XML/1998/namespace"
}
