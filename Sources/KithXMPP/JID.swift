/// An XMPP address, `local@domain/resource` (RFC 7622), kept in a normalized form so that the
/// same account is the same value however a server or a user spelled it: the domain and the
/// local part lower-cased (the case mapping of PRECIS' UsernameCaseMapped profile for the names
/// people use; Kith does not apply the rest of PRECIS, and refuses what it would have to), the
/// resource as given. Bindings between a person and an XMPP account are stored by `bare`.
public struct JID: Hashable, Sendable, CustomStringConvertible {
    public let local: String
    public let domain: String
    public let resource: String

    public enum ParseError: Error, Equatable, Sendable {
        case empty, emptyPart(String), tooLong(String), forbiddenCharacter(String)
    }

    public init(local: String = "", domain: String, resource: String = "") {
        self.local = local
        self.domain = domain
        self.resource = resource
    }

    /// Parses and normalizes. Each part is at most 1023 bytes (RFC 7622 §3); the local part may
    /// not hold `"&'/:<>@` or spaces and controls (§3.3.1), no part holds controls.
    public init(parsing text: String) throws(ParseError) {
        guard !text.isEmpty else { throw .empty }
        var rest = Substring(text)
        var resource = ""
        if let slash = rest.firstIndex(of: "/") {
            resource = String(rest[rest.index(after: slash)...])
            rest = rest[..<slash]
            guard !resource.isEmpty else { throw .emptyPart("resource") }
        }
        var local = ""
        if let at = rest.firstIndex(of: "@") {
            local = String(rest[..<at])
            rest = rest[rest.index(after: at)...]
            guard !local.isEmpty else { throw .emptyPart("local") }
        }
        var domain = String(rest)
        if domain.hasSuffix(".") { domain.removeLast() }
        guard !domain.isEmpty else { throw .emptyPart("domain") }
        for (part, value) in [("local", local), ("domain", domain), ("resource", resource)] {
            guard value.utf8.count <= 1023 else { throw .tooLong(part) }
            guard !value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) else {
                throw .forbiddenCharacter(part)
            }
        }
        guard !local.unicodeScalars.contains(where: { "\"&'/:<>@ ".unicodeScalars.contains($0) }) else {
            throw .forbiddenCharacter("local")
        }
        guard !domain.unicodeScalars.contains(where: { "@/ ".unicodeScalars.contains($0) }) else {
            throw .forbiddenCharacter("domain")
        }
        self.init(local: local.lowercased(), domain: domain.lowercased(), resource: resource)
    }

    /// The account without its resource: what a roster lists and what a person is bound to.
    public var bare: JID { JID(local: local, domain: domain) }
    public var isBare: Bool { resource.isEmpty }

    public var description: String {
        (local.isEmpty ? "" : local + "@") + domain + (resource.isEmpty ? "" : "/" + resource)
    }
}
