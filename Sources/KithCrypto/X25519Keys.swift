import CSodium

/// An X25519 private key: the static or ephemeral half of a Noise key pair.
///
/// Distinct from `SigningPrivateKey` so the type system keeps Ed25519 and X25519 apart.
public struct PrivateKey: Sendable {
    public static let byteCount = 32
    let secret: SecretBytes

    /// Fails unless `rawValue` is exactly 32 bytes.
    public init?(rawValue: some Collection<UInt8>) {
        guard rawValue.count == Self.byteCount else { return nil }
        secret = SecretBytes(rawValue)
    }

    init(secret: SecretBytes) {
        precondition(secret.count == Self.byteCount)
        self.secret = secret
    }

    /// A fresh key from the operating system's CSPRNG.
    public static func generate() -> PrivateKey {
        _ = Sodium.ready
        return PrivateKey(secret: SecretBytes(count: byteCount) { randombytes_buf($0.baseAddress!, $0.count) })
    }

    public var publicKey: PublicKey {
        var out = [UInt8](repeating: 0, count: PublicKey.byteCount)
        secret.withUnsafeBytes { sk in
            out.withUnsafeMutableBytes { pk in
                _ = crypto_scalarmult_base(pk.bindMemory(to: UInt8.self).baseAddress!,
                                           sk.bindMemory(to: UInt8.self).baseAddress!)
            }
        }
        return PublicKey(validated: out)
    }

    /// X25519(self, peer). Throws when the result is all zeros (a low-order peer point),
    /// which Noise allows implementations to reject and which Kith always rejects.
    func sharedSecret(with peer: PublicKey) throws(NoiseError) -> SecretBytes {
        var failed = false
        let shared = SecretBytes(count: 32) { out in
            secret.withUnsafeBytes { sk in
                peer.rawValue.withUnsafeBytes { pk in
                    failed = crypto_scalarmult(out.bindMemory(to: UInt8.self).baseAddress!,
                                               sk.bindMemory(to: UInt8.self).baseAddress!,
                                               pk.bindMemory(to: UInt8.self).baseAddress!) != 0
                }
            }
        }
        if failed { throw .invalidPublicKey }
        return shared
    }
}

/// An X25519 public key.
public struct PublicKey: Sendable, Hashable, CustomStringConvertible {
    public static let byteCount = 32
    public let rawValue: [UInt8]

    public init?(rawValue: some Collection<UInt8>) {
        guard rawValue.count == Self.byteCount else { return nil }
        self.rawValue = Array(rawValue)
    }

    init(validated bytes: [UInt8]) { rawValue = bytes }

    public var description: String { rawValue.hexString }
}

/// A static or ephemeral X25519 key pair.
public struct KeyPair: Sendable {
    public let privateKey: PrivateKey
    public let publicKey: PublicKey

    public init(privateKey: PrivateKey) {
        self.privateKey = privateKey
        self.publicKey = privateKey.publicKey
    }

    public static func generate() -> KeyPair { KeyPair(privateKey: .generate()) }
}
