import CKithAEAD
import CSodium

/// The AEAD of a Noise protocol name (`ChaChaPoly` or `AESGCM`).
public enum NoiseCipher: String, Sendable {
    case chaChaPoly = "ChaChaPoly"
    case aesGCM = "AESGCM"

    static let keyLength = 32
    public static let tagLength = 16

    /// The name people read (`kith transfers`).
    public var displayName: String {
        switch self {
        case .chaChaPoly: "ChaCha20-Poly1305"
        case .aesGCM: "AES-256-GCM"
        }
    }

    /// Whether this CPU runs AES-GCM in hardware (AES-NI and carry-less multiply, as libsodium
    /// finds at run time): only then is AES-256-GCM worth choosing, and only then may libsodium's
    /// AES-GCM be called at all.
    public static var aesGCMInHardware: Bool {
        _ = Sodium.ready
        return crypto_aead_aes256gcm_is_available() == 1
    }

    /// The 96-bit AEAD nonce Noise builds from the 64-bit counter: four zero bytes, then the
    /// counter little-endian for ChaChaPoly and big-endian for AESGCM (Noise §12.3, §12.4).
    func nonceBytes(_ n: UInt64) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 12)
        for i in 0..<8 {
            let byte = UInt8(truncatingIfNeeded: n >> (8 * UInt64(i)))
            switch self {
            case .chaChaPoly: out[4 + i] = byte
            case .aesGCM: out[11 - i] = byte
            }
        }
        return out
    }

    func seal(key: SecretBytes, nonce: UInt64, ad: [UInt8], plaintext: [UInt8]) -> [UInt8] {
        seal(key: key, nonce: nonce, ad: ad, plaintext: plaintext, prefix: 0)
    }

    /// From this many bytes on, libcrypto seals and opens (`CKithAEAD`): on a file push's 64 KB
    /// messages it is 2.4 times as fast as libsodium here (3.6 against 1.5 GB/s on one core), while
    /// on small ones its per-call setup (about 0.4 µs) makes it slower. Same bytes either way.
    static let libcryptoFrom = 1024

    /// Seals into a new array after `prefix` bytes left for the caller (a frame's length), so a
    /// transport message is written once instead of sealed and then copied behind its header.
    func seal(key: SecretBytes, nonce: UInt64, ad: [UInt8], plaintext: [UInt8], prefix: Int) -> [UInt8] {
        _ = Sodium.ready
        let npub = nonceBytes(nonce)
        var status: Int32 = -1
        let out = [UInt8](unsafeUninitializedCapacity: prefix + plaintext.count + Self.tagLength) { buffer, count in
            let target = buffer.baseAddress! + prefix
            status = key.withUnsafeBytes { k in
                let k = k.bindMemory(to: UInt8.self).baseAddress!
                if plaintext.count >= Self.libcryptoFrom {
                    // Any failure there (a missing cipher, no memory) leaves it to libsodium, which
                    // cannot fail: sealing must not trap where it never did.
                    if kith_aead_seal(libcryptoCipher, k, npub, ad, ad.count, plaintext, plaintext.count, target) == 0 { return 0 }
                }
                var outLength: UInt64 = 0
                return switch self {
                case .chaChaPoly:
                    crypto_aead_chacha20poly1305_ietf_encrypt(
                        target, &outLength, plaintext, UInt64(plaintext.count), ad, UInt64(ad.count), nil, npub, k)
                case .aesGCM:
                    crypto_aead_aes256gcm_encrypt(
                        target, &outLength, plaintext, UInt64(plaintext.count), ad, UInt64(ad.count), nil, npub, k)
                }
            }
            for i in 0..<prefix { buffer[i] = 0 }
            count = prefix + plaintext.count + Self.tagLength
        }
        // Encryption fails only on impossible lengths; sending unencrypted bytes is never an option.
        precondition(status == 0, "AEAD encryption failed")
        return out
    }

    func open(key: SecretBytes, nonce: UInt64, ad: [UInt8], ciphertext: [UInt8]) throws(NoiseError) -> [UInt8] {
        _ = Sodium.ready
        guard ciphertext.count >= Self.tagLength else { throw .decryptionFailed }
        let npub = nonceBytes(nonce)
        var status: Int32 = -1
        let out = [UInt8](unsafeUninitializedCapacity: ciphertext.count - Self.tagLength) { buffer, count in
            status = key.withUnsafeBytes { k in
                let k = k.bindMemory(to: UInt8.self).baseAddress!
                if buffer.count >= Self.libcryptoFrom {
                    let opened = kith_aead_open(libcryptoCipher, k, npub, ad, ad.count, ciphertext, ciphertext.count, buffer.baseAddress)
                    if opened != -2 { return opened }
                }
                var outLength: UInt64 = 0
                return switch self {
                case .chaChaPoly:
                    crypto_aead_chacha20poly1305_ietf_decrypt(
                        buffer.baseAddress, &outLength, nil, ciphertext, UInt64(ciphertext.count), ad, UInt64(ad.count), npub, k)
                case .aesGCM:
                    crypto_aead_aes256gcm_decrypt(
                        buffer.baseAddress, &outLength, nil, ciphertext, UInt64(ciphertext.count), ad, UInt64(ad.count), npub, k)
                }
            }
            // On failure both libraries' outputs are cleared; either way every byte is initialized.
            if status != 0 { buffer.initialize(repeating: 0) }
            count = buffer.count
        }
        guard status == 0 else { throw .decryptionFailed }
        return out
    }

    private var libcryptoCipher: Int32 {
        switch self {
        case .chaChaPoly: Int32(KITH_AEAD_CHACHA20_POLY1305)
        case .aesGCM: Int32(KITH_AEAD_AES256_GCM)
        }
    }
}

/// The hash function of a Noise protocol name, with the HMAC and HKDF Noise builds on it.
public enum NoiseHash: String, Sendable {
    case blake2b = "BLAKE2b"
    case sha256 = "SHA256"
    case sha512 = "SHA512"

    var hashLength: Int { self == .sha256 ? 32 : 64 }
    var blockLength: Int { self == .sha256 ? 64 : 128 }

    /// HASH(parts[0] || parts[1] || …) without concatenating the parts first.
    func hash(_ parts: [[UInt8]]) -> [UInt8] {
        _ = Sodium.ready
        var out = [UInt8](repeating: 0, count: hashLength)
        switch self {
        case .blake2b:
            // The state struct is 64-byte aligned in C, which Swift imports as opaque.
            let state = UnsafeMutableRawPointer.allocate(byteCount: crypto_generichash_statebytes(), alignment: 64)
            defer { sodium_memzero(state, crypto_generichash_statebytes()); state.deallocate() }
            let opaque = OpaquePointer(state)
            crypto_generichash_init(opaque, nil, 0, hashLength)
            for p in parts { crypto_generichash_update(opaque, p, UInt64(p.count)) }
            crypto_generichash_final(opaque, &out, hashLength)
        case .sha256:
            var state = crypto_hash_sha256_state()
            crypto_hash_sha256_init(&state)
            for p in parts { crypto_hash_sha256_update(&state, p, UInt64(p.count)) }
            crypto_hash_sha256_final(&state, &out)
            sodium_memzero(&state, MemoryLayout.size(ofValue: state))
        case .sha512:
            var state = crypto_hash_sha512_state()
            crypto_hash_sha512_init(&state)
            for p in parts { crypto_hash_sha512_update(&state, p, UInt64(p.count)) }
            crypto_hash_sha512_final(&state, &out)
            sodium_memzero(&state, MemoryLayout.size(ofValue: state))
        }
        return out
    }

    /// HMAC as in RFC 2104 over this hash, the construction Noise §4.3 prescribes
    /// (not BLAKE2b's own keyed mode).
    func hmac(key: [UInt8], _ parts: [[UInt8]]) -> [UInt8] {
        var block = key.count > blockLength ? hash([key]) : key
        block += [UInt8](repeating: 0, count: blockLength - block.count)
        var inner = block.map { $0 ^ 0x36 }
        var outer = block.map { $0 ^ 0x5c }
        var innerHash = hash([inner] + parts)
        let result = hash([outer, innerHash])
        wipe(&block); wipe(&inner); wipe(&outer); wipe(&innerHash)
        return result
    }

    /// HKDF(chaining_key, input_key_material, num_outputs) of Noise §4.3: two or three outputs.
    func hkdf(chainingKey: [UInt8], inputKeyMaterial: [UInt8], outputs: Int) -> [[UInt8]] {
        precondition(outputs == 2 || outputs == 3, "Noise HKDF yields two or three outputs")
        var tempKey = hmac(key: chainingKey, [inputKeyMaterial])
        var results = [hmac(key: tempKey, [[0x01]])]
        for i in 2...outputs {
            results.append(hmac(key: tempKey, [results[i - 2], [UInt8(i)]]))
        }
        wipe(&tempKey)
        return results
    }
}

/// A parsed protocol name such as `Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b`.
public struct NoiseProtocolName: Sendable, Equatable {
    public let name: String
    public let pattern: NoisePattern
    public let cipher: NoiseCipher
    public let hash: NoiseHash

    public init(_ name: String) throws(NoiseError) {
        let parts = name.split(separator: "_", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 5, parts[0] == "Noise", parts[2] == "25519",
              let cipher = NoiseCipher(rawValue: parts[3]), let hash = NoiseHash(rawValue: parts[4])
        else { throw .unsupportedProtocol(name) }
        if cipher == .aesGCM {
            _ = Sodium.ready
            guard crypto_aead_aes256gcm_is_available() == 1 else { throw .unsupportedProtocol(name) }
        }
        self.name = name
        self.pattern = try NoisePattern(parsing: parts[1])
        self.cipher = cipher
        self.hash = hash
    }

    static let dhLength = 32
}
