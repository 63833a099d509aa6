import KithCrypto

/// What a server prints for agents to connect with: its address and its identity key, so the
/// agent can pin the key before the first byte (Protocol/identity.md §Invites).
///
/// `kith://HOST:PORT/#KEY`, KEY being the 64 hex digits of the server's Ed25519 public key.
/// HOST is a DNS name, an IPv4 address, or an IPv6 address in brackets.
public struct Invite: Equatable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var key: SigningPublicKey

    public init(host: String, port: Int, key: SigningPublicKey) {
        self.host = host
        self.port = port
        self.key = key
    }

    public enum ParseError: Error, Equatable, CustomStringConvertible {
        case notAnInvite, badAddress, badKey

        public var description: String {
            switch self {
            case .notAnInvite: "an invite looks like kith://HOST:PORT/#KEY"
            case .badAddress: "the invite's HOST:PORT is not valid"
            case .badKey: "the invite's key is not 64 hex digits of an Ed25519 public key"
            }
        }
    }

    public init(parsing text: String) throws(ParseError) {
        guard text.hasPrefix("kith://"), let hash = text.firstIndex(of: "#") else { throw .notAnInvite }
        var authority = text[text.index(text.startIndex, offsetBy: 7)..<hash]
        if authority.hasSuffix("/") { authority = authority.dropLast() }
        let address: HostPort
        do { address = try HostPort(parsing: authority) } catch { throw .badAddress }
        guard let bytes = [UInt8](hexString: text[text.index(after: hash)...]),
              let key = SigningPublicKey(rawValue: bytes), key.noisePublicKey != nil
        else { throw .badKey }
        self.init(host: address.host, port: address.port, key: key)
    }

    public var description: String {
        "kith://\(HostPort(host: host, port: port))/#\(key.rawValue.hexString)"
    }
}
