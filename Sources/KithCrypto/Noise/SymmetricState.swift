/// Noise's SymmetricState (§5.2): the chaining key, the handshake hash and the handshake's
/// CipherState. Private to the handshake; `split` hands the transport keys out.
struct SymmetricState {
    let hash: NoiseHash
    private var chainingKey: SecretBytes
    private(set) var handshakeHash: [UInt8]
    private(set) var cipherState: CipherState

    init(protocolName: NoiseProtocolName) {
        hash = protocolName.hash
        let nameBytes = Array(protocolName.name.utf8)
        if nameBytes.count <= hash.hashLength {
            handshakeHash = nameBytes + [UInt8](repeating: 0, count: hash.hashLength - nameBytes.count)
        } else {
            handshakeHash = hash.hash([nameBytes])
        }
        chainingKey = SecretBytes(handshakeHash)
        cipherState = CipherState(cipher: protocolName.cipher)
    }

    /// Cipher keys are 32 bytes; a 64-byte hash output is truncated (§5.2).
    private static func cipherKey(_ bytes: inout [UInt8]) -> SecretBytes {
        var key = Array(bytes.prefix(NoiseCipher.keyLength))
        wipe(&bytes)
        return SecretBytes(consuming: &key)
    }

    mutating func mixKey(_ inputKeyMaterial: [UInt8]) {
        var out = derive(inputKeyMaterial, outputs: 2)
        chainingKey = SecretBytes(consuming: &out[0])
        cipherState.initializeKey(Self.cipherKey(&out[1]))
    }

    mutating func mixHash(_ data: [UInt8]) {
        handshakeHash = hash.hash([handshakeHash, data])
    }

    mutating func mixKeyAndHash(_ inputKeyMaterial: [UInt8]) {
        var out = derive(inputKeyMaterial, outputs: 3)
        chainingKey = SecretBytes(consuming: &out[0])
        mixHash(out[1])
        wipe(&out[1])
        cipherState.initializeKey(Self.cipherKey(&out[2]))
    }

    mutating func encryptAndHash(_ plaintext: [UInt8]) throws(NoiseError) -> [UInt8] {
        let ciphertext = try cipherState.encrypt(ad: handshakeHash, plaintext: plaintext)
        mixHash(ciphertext)
        return ciphertext
    }

    mutating func decryptAndHash(_ ciphertext: [UInt8]) throws(NoiseError) -> [UInt8] {
        let plaintext = try cipherState.decrypt(ad: handshakeHash, ciphertext: ciphertext)
        mixHash(ciphertext)
        return plaintext
    }

    /// Drops the chaining key and the handshake's cipher key once `split` has been taken; the
    /// handshake hash stays, for channel binding.
    mutating func clearKeys() {
        chainingKey = SecretBytes([])
        cipherState = CipherState(cipher: cipherState.cipher)
    }

    /// The two transport CipherStates: the first for initiator→responder, the second back.
    func split() -> (CipherState, CipherState) {
        var out = derive([], outputs: 2)
        let cipher = cipherState.cipher
        return (CipherState(cipher: cipher, key: Self.cipherKey(&out[0])),
                CipherState(cipher: cipher, key: Self.cipherKey(&out[1])))
    }

    private func derive(_ inputKeyMaterial: [UInt8], outputs: Int) -> [[UInt8]] {
        var ck = chainingKey.unsafeArray
        defer { wipe(&ck) }
        return hash.hkdf(chainingKey: ck, inputKeyMaterial: inputKeyMaterial, outputs: outputs)
    }
}
