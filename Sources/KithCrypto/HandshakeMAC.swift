import CSodium

/// The MAC that ends a UDP handshake initiation (spec §UDP packets, Type 1), as WireGuard's
/// `mac1`: keyed BLAKE2b-128 over every byte before it, with a key that only someone who knows
/// the responder's public key can compute. A responder checks it before any Diffie-Hellman, so an
/// initiation for the wrong key, or random bytes, costs one hash, not four scalar multiplications.
/// It proves no identity (the key is public to the account's devices and contacts); the Noise
/// handshake after it does.
public struct HandshakeMAC: Sendable {
    public static let length = 16
    static let label = Array("kith handshake mac1".utf8)
    private let key: [UInt8]

    /// The MAC key of a responder with this static X25519 public key: BLAKE2b-256(label ‖ key).
    public init(responder: PublicKey) {
        _ = Sodium.ready
        key = ContentHasher.hash(Self.label + responder.rawValue)
    }

    /// The MAC of `bytes`.
    public func mac(_ bytes: some Collection<UInt8>) -> [UInt8] { Self.keyed(Array(bytes), key: key) }

    /// Keyed BLAKE2b-128 (libsodium `crypto_generichash`, 16-byte output): mac1's and mac2's function.
    static func keyed(_ input: [UInt8], key: [UInt8]) -> [UInt8] {
        _ = Sodium.ready
        var out = [UInt8](repeating: 0, count: length)
        crypto_generichash(&out, length, input, UInt64(input.count), key, key.count)
        return out
    }

    /// `packet` with its MAC appended.
    public func sealed(_ packet: [UInt8]) -> [UInt8] { packet + mac(packet) }

    /// Whether `packet` ends in the right MAC for what precedes it (compared in constant time).
    public func verifies(_ packet: ArraySlice<UInt8>) -> Bool {
        guard packet.count > Self.length else { return false }
        let expected = mac(packet.dropLast(Self.length))
        let claimed = Array(packet.suffix(Self.length))
        return sodium_memcmp(expected, claimed, Self.length) == 0
    }
}
