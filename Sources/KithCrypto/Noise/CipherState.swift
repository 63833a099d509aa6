/// Noise's CipherState (§5.1): a key and a 64-bit nonce that counts messages.
///
/// A transport session holds two of these, one per direction. The explicit-nonce methods are for
/// datagram transports, where the counter travels in the packet and packets may arrive out of
/// order; the replay window that guards them lives in KithCore.
public struct CipherState: Sendable {
    public let cipher: NoiseCipher
    private var key: SecretBytes?
    public private(set) var nonce: UInt64 = 0

    /// The nonce Noise reserves (§5.1): never used to encrypt; `rekey` uses it internally.
    public static let reservedNonce = UInt64.max

    public init(cipher: NoiseCipher, key: SecretBytes? = nil) {
        precondition(key == nil || key!.count == NoiseCipher.keyLength)
        self.cipher = cipher
        self.key = key
    }

    public var hasKey: Bool { key != nil }

    mutating func initializeKey(_ newKey: SecretBytes?) {
        key = newKey
        nonce = 0
    }

    /// EncryptWithAd: with no key, returns the plaintext unchanged, as the spec requires.
    public mutating func encrypt(ad: [UInt8] = [], plaintext: [UInt8]) throws(NoiseError) -> [UInt8] {
        guard let key else { return plaintext }
        guard nonce != Self.reservedNonce else { throw .nonceExhausted }
        let out = cipher.seal(key: key, nonce: nonce, ad: ad, plaintext: plaintext)
        nonce += 1
        return out
    }

    /// EncryptWithAd into a new array after `prefix` zero bytes the caller fills in (a frame header).
    public mutating func encrypt(plaintext: [UInt8], prefix: Int) throws(NoiseError) -> [UInt8] {
        guard let key else { return [UInt8](repeating: 0, count: prefix) + plaintext }
        guard nonce != Self.reservedNonce else { throw .nonceExhausted }
        let out = cipher.seal(key: key, nonce: nonce, ad: [], plaintext: plaintext, prefix: prefix)
        nonce += 1
        return out
    }

    /// DecryptWithAd: the nonce advances only when authentication succeeds.
    public mutating func decrypt(ad: [UInt8] = [], ciphertext: [UInt8]) throws(NoiseError) -> [UInt8] {
        guard let key else { return ciphertext }
        guard nonce != Self.reservedNonce else { throw .nonceExhausted }
        let out = try cipher.open(key: key, nonce: nonce, ad: ad, ciphertext: ciphertext)
        nonce += 1
        return out
    }

    /// Encrypts under an explicit nonce, leaving the counter alone (datagram transports).
    public func encrypt(nonce n: UInt64, ad: [UInt8] = [], plaintext: [UInt8]) throws(NoiseError) -> [UInt8] {
        guard let key else { throw .missingKey("k") }
        guard n != Self.reservedNonce else { throw .nonceExhausted }
        return cipher.seal(key: key, nonce: n, ad: ad, plaintext: plaintext)
    }

    /// Encrypts under an explicit nonce into a new array after `prefix` zero bytes the caller
    /// fills in (a datagram's header), so the packet is written once instead of sealed and copied.
    public func encrypt(nonce n: UInt64, ad: [UInt8], plaintext: [UInt8], prefix: Int) throws(NoiseError) -> [UInt8] {
        guard let key else { throw .missingKey("k") }
        guard n != Self.reservedNonce else { throw .nonceExhausted }
        return cipher.seal(key: key, nonce: n, ad: ad, plaintext: plaintext, prefix: prefix)
    }

    /// Decrypts under an explicit nonce, leaving the counter alone (datagram transports).
    public func decrypt(nonce n: UInt64, ad: [UInt8] = [], ciphertext: [UInt8]) throws(NoiseError) -> [UInt8] {
        guard let key else { throw .missingKey("k") }
        guard n != Self.reservedNonce else { throw .nonceExhausted }
        return try cipher.open(key: key, nonce: n, ad: ad, ciphertext: ciphertext)
    }

    /// Rekey (§4.2, §11.3): k = the first 32 bytes of ENCRYPT(k, 2^64-1, empty, 32 zero bytes).
    /// The nonce is not reset.
    public mutating func rekey() {
        guard let key else { return }
        var next = cipher.seal(key: key, nonce: Self.reservedNonce, ad: [], plaintext: [UInt8](repeating: 0, count: 32))
        next.removeLast(NoiseCipher.tagLength)
        self.key = SecretBytes(consuming: &next)
    }

    /// The same key under another AEAD, before its first message: a device-to-device channel's
    /// handshake agrees on the transport's cipher in its payloads, after the protocol name fixed
    /// the handshake's own (spec §Handshakes, Transport cipher).
    public func switched(to other: NoiseCipher) -> CipherState {
        precondition(nonce == 0, "a cipher is chosen before the first transport message")
        return CipherState(cipher: other, key: key)
    }

    /// Sets the counter, for tests of the reserved nonce. Not public: rewinding a nonce would
    /// reuse it under the same key.
    mutating func setNonce(_ n: UInt64) { nonce = n }
}
