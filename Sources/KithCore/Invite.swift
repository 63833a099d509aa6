import KithCrypto

/// What a server prints for agents to connect with: where to reach it and its identity key, so the
/// agent can pin the key before the first byte (Protocol/identity.md §Invites).
///
/// `kith://HOST:PORT[,HOST:PORT…]/#KEY`, KEY being the 64 hex digits of the server's Ed25519
/// public key. Several addresses are instances of one server (they share its key): an agent tries
/// them in turn. HOST is a DNS name, an IPv4 address, or an IPv6 address in brackets.
public struct Invite: Equatable, Sendable, CustomStringConvertible {
    /// At least one, at most `maxAddresses`, none twice; the first is the one to try first.
    public var addresses: [HostPort]
    public var key: SigningPublicKey

    /// More addresses than this is not an invite: they would not fit in a line a person copies.
    public static let maxAddresses = 8

    public init(addresses: [HostPort], key: SigningPublicKey) {
        precondition(!addresses.isEmpty, "an invite names at least one address")
        self.addresses = addresses
        self.key = key
    }

    public init(host: String, port: Int, key: SigningPublicKey) {
        self.init(addresses: [HostPort(host: host, port: port)], key: key)
    }

    /// The first address: the one a single-address invite names.
    public var host: String { addresses[0].host }
    public var port: Int { addresses[0].port }

    public enum ParseError: Error, Equatable, CustomStringConvertible {
        case notAnInvite, badAddress, badKey, tooManyAddresses

        public var description: String {
            switch self {
            case .notAnInvite: "an invite looks like kith://HOST:PORT/#KEY"
            case .badAddress: "the invite's HOST:PORT is not valid"
            case .badKey: "the invite's key is not 64 hex digits of an Ed25519 public key"
            case .tooManyAddresses: "an invite names at most \(Invite.maxAddresses) addresses"
            }
        }
    }

    public init(parsing text: String) throws(ParseError) {
        guard text.hasPrefix("kith://"), let hash = text.firstIndex(of: "#") else { throw .notAnInvite }
        var authority = text[text.index(text.startIndex, offsetBy: 7)..<hash]
        if authority.hasSuffix("/") { authority = authority.dropLast() }
        let parts = authority.split(separator: ",", omittingEmptySubsequences: false)
        guard parts.count <= Self.maxAddresses else { throw .tooManyAddresses }
        var addresses: [HostPort] = []
        for part in parts {
            let address: HostPort
            do { address = try HostPort(parsing: part) } catch { throw .badAddress }
            if !addresses.contains(address) { addresses.append(address) }
        }
        guard let bytes = [UInt8](hexString: text[text.index(after: hash)...]),
              let key = SigningPublicKey(rawValue: bytes), key.noisePublicKey != nil
        else { throw .badKey }
        self.init(addresses: addresses, key: key)
    }

    public var description: String {
        "kith://\(addresses.map(\.description).joined(separator: ","))/#\(key.rawValue.hexString)"
    }
}
