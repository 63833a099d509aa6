import CSodium

/// An Ed25519 public key: a device's identity, as the roster and the server know it.
public struct SigningPublicKey: Sendable, Hashable, CustomStringConvertible {
    public static let byteCount = 32
    public static let signatureByteCount = 64
    public let rawValue: [UInt8]

    public init?(rawValue: some Collection<UInt8>) {
        guard rawValue.count == Self.byteCount else { return nil }
        self.rawValue = Array(rawValue)
    }

    /// Verifies a detached Ed25519 signature; any malformed input simply fails verification.
    public func isValidSignature(_ signature: [UInt8], for message: [UInt8]) -> Bool {
        _ = Sodium.ready
        guard signature.count == Self.signatureByteCount else { return false }
        return crypto_sign_verify_detached(signature, message, UInt64(message.count), rawValue) == 0
    }

    /// The X25519 form of this key, which Noise handshakes use as the device's static key.
    /// Nil for a point that has no Montgomery form (not a valid Ed25519 key).
    public var noisePublicKey: PublicKey? {
        _ = Sodium.ready
        var out = [UInt8](repeating: 0, count: PublicKey.byteCount)
        guard crypto_sign_ed25519_pk_to_curve25519(&out, rawValue) == 0 else { return nil }
        return PublicKey(validated: out)
    }

    public var fingerprint: Fingerprint { Fingerprint(of: self) }

    public var description: String { fingerprint.description }
}

/// A device's long-term identity: an Ed25519 key pair made on first run.
///
/// The key is the identity; the server's device id (`alice-PC-1`) is only its human name.
/// Noise needs X25519, so `noiseKeyPair` derives it from the same secret (libsodium's
/// `crypto_sign_ed25519_sk_to_curve25519`), and a peer derives our X25519 public key from
/// the Ed25519 one it already trusts.
public struct DeviceIdentity: Sendable {
    public static let seedByteCount = 32
    private let secretKey: SecretBytes  // libsodium's 64-byte form: seed || public key
    public let publicKey: SigningPublicKey

    /// Rebuilds the identity from its 32-byte seed (what the device stores).
    public init?(seed: some Collection<UInt8>) {
        guard seed.count == Self.seedByteCount else { return nil }
        _ = Sodium.ready
        var pk = [UInt8](repeating: 0, count: SigningPublicKey.byteCount)
        let seedBytes = SecretBytes(seed)
        secretKey = SecretBytes(count: 64) { sk in
            seedBytes.withUnsafeBytes { sd in
                _ = crypto_sign_seed_keypair(&pk, sk.bindMemory(to: UInt8.self).baseAddress!,
                                             sd.bindMemory(to: UInt8.self).baseAddress!)
            }
        }
        publicKey = SigningPublicKey(rawValue: pk)!
    }

    public static func generate() -> DeviceIdentity {
        var seed = Sodium.randomBytes(seedByteCount)
        defer { wipe(&seed) }
        return DeviceIdentity(seed: seed)!
    }

    /// The seed, for the device's own store only. Wipe the result after writing it.
    public var unsafeSeed: [UInt8] { secretKey.withUnsafeBytes { Array($0.prefix(Self.seedByteCount)) } }

    public func sign(_ message: [UInt8]) -> [UInt8] {
        var signature = [UInt8](repeating: 0, count: SigningPublicKey.signatureByteCount)
        secretKey.withUnsafeBytes { sk in
            _ = crypto_sign_detached(&signature, nil, message, UInt64(message.count),
                                     sk.bindMemory(to: UInt8.self).baseAddress!)
        }
        return signature
    }

    /// The X25519 key pair for Noise, derived from the Ed25519 secret.
    public var noiseKeyPair: KeyPair {
        let x25519 = SecretBytes(count: PrivateKey.byteCount) { out in
            secretKey.withUnsafeBytes { sk in
                _ = crypto_sign_ed25519_sk_to_curve25519(out.bindMemory(to: UInt8.self).baseAddress!,
                                                         sk.bindMemory(to: UInt8.self).baseAddress!)
            }
        }
        return KeyPair(privateKey: PrivateKey(secret: x25519))
    }
}
