import CSodium

/// The cookie of a UDP handshake under load (spec §UDP packets, Type 6 and Type 7), as
/// WireGuard's `mac2`: a responder that is flooded answers an initiation with a cookie instead of
/// a handshake, and answers only initiations that carry a MAC keyed with that cookie. The cookie
/// is a MAC of the initiator's address under a secret only the responder knows, so carrying it
/// proves the initiator receives packets at the address it sends from: a flood from spoofed
/// addresses costs the responder one hash per packet, and the per-address rate limit then counts
/// real addresses.
public enum HandshakeCookie {
    public static let length = 16
    /// A responder's cookie secret: random, replaced every two minutes.
    public static let secretLength = 32
    public static let nonceLength = Int(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES)
    /// The cookie sealed: the cookie and the AEAD's tag.
    public static let sealedLength = length + Int(crypto_aead_xchacha20poly1305_ietf_ABYTES)
    static let label = Array("kith handshake cookie".utf8)

    /// The cookie of `source` (the initiator's address: IP bytes in network order, then the port
    /// as u16 big-endian) under `secret`: keyed BLAKE2b-128.
    public static func cookie(secret: [UInt8], source: [UInt8]) -> [UInt8] {
        HandshakeMAC.keyed(source, key: secret)
    }

    /// mac2: keyed BLAKE2b-128 of `bytes` (everything before it, mac1 included) with the cookie as key.
    public static func mac2(_ bytes: some Collection<UInt8>, cookie: [UInt8]) -> [UInt8] {
        HandshakeMAC.keyed(Array(bytes), key: cookie)
    }

    /// Whether `packet` ends in the right mac2 for `cookie` (compared in constant time).
    public static func verifiesMAC2(_ packet: ArraySlice<UInt8>, cookie: [UInt8]) -> Bool {
        guard packet.count > length else { return false }
        let expected = mac2(packet.dropLast(length), cookie: cookie)
        return sodium_memcmp(expected, Array(packet.suffix(length)), length) == 0
    }

    /// The key a responder's cookies travel under: BLAKE2b-256(label ‖ its static public key).
    /// Anyone who can make a right mac1 can compute it; the AEAD's additional data (the mac1 of
    /// the initiation answered) is what binds a reply to one initiation.
    public static func sealingKey(responder: PublicKey) -> [UInt8] {
        _ = Sodium.ready
        return ContentHasher.hash(label + responder.rawValue)
    }

    /// XChaCha20-Poly1305 of the cookie with the initiation's mac1 as additional data.
    public static func seal(_ cookie: [UInt8], key: [UInt8], nonce: [UInt8], mac1: [UInt8]) -> [UInt8] {
        precondition(cookie.count == length && nonce.count == nonceLength && key.count == 32)
        var out = [UInt8](repeating: 0, count: sealedLength)
        var written: UInt64 = 0
        crypto_aead_xchacha20poly1305_ietf_encrypt(&out, &written, cookie, UInt64(cookie.count), mac1, UInt64(mac1.count),
                                                   nil, nonce, key)
        return out
    }

    /// The cookie in a reply, or nil if the reply was not sealed by that responder for that mac1.
    public static func open(_ sealed: [UInt8], key: [UInt8], nonce: [UInt8], mac1: [UInt8]) -> [UInt8]? {
        guard sealed.count == sealedLength, nonce.count == nonceLength, key.count == 32 else { return nil }
        var out = [UInt8](repeating: 0, count: length)
        var written: UInt64 = 0
        let status = crypto_aead_xchacha20poly1305_ietf_decrypt(&out, &written, nil, sealed, UInt64(sealed.count),
                                                                mac1, UInt64(mac1.count), nonce, key)
        return status == 0 ? out : nil
    }
}
