/// How the user names an endpoint on the command line: `kith:bob` (the Kith account bob, a
/// contact of one of the profile's Kith accounts) or `xmpp:bob@example.org`. Written without the
/// network it is seen from; when two of the profile's networks have it, `kith:bob@ACCOUNT` or
/// `xmpp:bob@example.org@ACCOUNT` names one (ACCOUNT: the account's name, or a prefix of
/// `name@serverkey`; for XMPP, the profile's JID).
public enum EndpointName {
    public enum Problem: Error, Equatable, Sendable, CustomStringConvertible {
        case notAnEndpoint(String)
        case unknown(String)
        case ambiguous(String, [Endpoint])

        public var description: String {
            switch self {
            case .notAnEndpoint(let text): "\(text) is not an endpoint: write kith:ACCOUNT or xmpp:NAME@DOMAIN"
            case .unknown(let text): "\(text) is not a contact on any network of this profile (`kith people` lists them)"
            case .ambiguous(let text, let candidates):
                "\(text) is a contact on several networks here; name one: " + candidates.map(EndpointName.full).joined(separator: ", ")
            }
        }
    }

    /// The endpoint `text` names among `known`.
    public static func resolve(_ text: String, among known: [Endpoint]) throws(Problem) -> Endpoint {
        let kind: String, rest: Substring
        if text.hasPrefix("kith:") { (kind, rest) = ("kith", text.dropFirst(5)) }
        else if text.hasPrefix("xmpp:") { (kind, rest) = ("xmpp", text.dropFirst(5)) }
        else { throw .notAnEndpoint(text) }
        guard !rest.isEmpty else { throw .notAnEndpoint(text) }
        let candidates = known.filter { endpoint in
            switch endpoint.network {
            case .kith(let server, let account):
                guard kind == "kith" else { return false }
                let id = endpoint.id.lowercased(), wanted = rest.lowercased()
                return wanted == id || (wanted.hasPrefix(id + "@") && "\(account)@\(server)".hasPrefix(wanted.dropFirst(id.count + 1)))
            case .xmpp(let jid):
                guard kind == "xmpp" else { return false }
                let wanted = rest.lowercased()
                return wanted == endpoint.id || wanted == "\(endpoint.id)@\(jid)"
            }
        }
        switch candidates.count {
        case 1: return candidates[0]
        case 0: throw .unknown(text)
        default: throw .ambiguous(text, candidates.sorted())
        }
    }

    /// The short name (`kith:bob`, `xmpp:bob@example.org`).
    public static func short(_ endpoint: Endpoint) -> String {
        endpoint.network.isKith ? "kith:\(endpoint.id)" : "xmpp:\(endpoint.id)"
    }

    /// The name that says which network it is seen from (`kith:bob@alice@3f2a…`).
    public static func full(_ endpoint: Endpoint) -> String {
        switch endpoint.network {
        case .kith(let server, let account): "kith:\(endpoint.id)@\(account)@\(server)"
        case .xmpp(let jid): "xmpp:\(endpoint.id)@\(jid)"
        }
    }
}
