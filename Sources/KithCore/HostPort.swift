/// `HOST:PORT` as Kith writes addresses (invites, `--listen`): an IPv6 host goes in brackets,
/// the port is one to five ASCII digits.
public struct HostPort: Equatable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public let description: String
    }

    /// `allowPortZero` for listening, where 0 asks the system for a free port.
    public init(parsing text: some StringProtocol, allowPortZero: Bool = false) throws(ParseError) {
        let text = String(text)
        guard let colon = text.lastIndex(of: ":") else { throw ParseError(description: "\(text) is not HOST:PORT") }
        let digits = text[text.index(after: colon)...]
        guard (1...5).contains(digits.count), digits.allSatisfy({ $0.isASCII && $0.isNumber }), let port = Int(digits),
              port <= 65535, port > 0 || allowPortZero
        else { throw ParseError(description: "\(text): the port must be a number from \(allowPortZero ? 0 : 1) to 65535") }
        var host = text[..<colon]
        if host.hasPrefix("[") && host.hasSuffix("]") {
            host = host.dropFirst().dropLast()
        } else if host.contains(":") {
            throw ParseError(description: "\(text): put an IPv6 address in brackets, as [::1]:\(digits)")
        }
        // Printable ASCII only (0x21…0x7e): no control characters reach a log or a terminal. No
        // comma: it separates the addresses of an invite.
        guard !host.isEmpty, host.unicodeScalars.allSatisfy({ (0x21...0x7e).contains($0.value) && !"/@#?[],".unicodeScalars.contains($0) }) else {
            throw ParseError(description: "\(text): the host must be a name or an address")
        }
        self.init(host: String(host), port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
