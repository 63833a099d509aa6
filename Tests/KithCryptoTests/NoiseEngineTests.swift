import KithTestSupport
import CKithAEAD
import Testing
@testable import KithCrypto

/// The engine beyond the published vectors: every pattern it knows, with and without PSKs,
/// against itself; and every way a handshake can be refused.
@Suite struct NoiseEngineTests {
    /// Drives a handshake to completion between two fresh parties; returns both transports.
    static func handshake(_ name: String, payloads: Bool = true) throws -> (NoiseTransport, NoiseTransport, [[UInt8]]) {
        let protocolName = try NoiseProtocolName(name)
        let pattern = protocolName.pattern
        let initiatorStatic = KeyPair.generate(), responderStatic = KeyPair.generate()
        let pskCount = pattern.messages.joined().filter { $0 == .psk }.count
        let psks = (0..<pskCount).map { _ in SecretBytes(secureRandomBytes(32)) }
        let needs = { (tokens: [NoisePattern.Token]) in tokens.contains(.s) }
        var initiator = try NoiseHandshake(.init(
            protocolName: protocolName, role: .initiator, prologue: Array("p".utf8),
            localStatic: initiatorStatic,
            remoteStatic: needs(pattern.responderPreMessage) ? responderStatic.publicKey : nil, preSharedKeys: psks))
        var responder = try NoiseHandshake(.init(
            protocolName: protocolName, role: .responder, prologue: Array("p".utf8),
            localStatic: responderStatic,
            remoteStatic: needs(pattern.initiatorPreMessage) ? initiatorStatic.publicKey : nil, preSharedKeys: psks))
        var wire: [[UInt8]] = []
        var turn = 0
        while !initiator.isComplete || !responder.isComplete {
            let payload = payloads ? Array("message \(turn)".utf8) : []
            if turn % 2 == 0 {
                wire.append(try initiator.writeMessage(payload: payload))
                #expect(try responder.readMessage(wire.last!) == payload)
            } else {
                wire.append(try responder.writeMessage(payload: payload))
                #expect(try initiator.readMessage(wire.last!) == payload)
            }
            turn += 1
        }
        #expect(initiator.handshakeHash == responder.handshakeHash)
        let sentBy = { (parity: Int) in pattern.messages.indices.filter { $0 % 2 == parity }.flatMap { pattern.messages[$0] } }
        if needs(pattern.responderPreMessage + sentBy(1)) {
            #expect(initiator.transport?.remoteStatic == responderStatic.publicKey)
        }
        if needs(pattern.initiatorPreMessage + sentBy(0)) {
            #expect(responder.transport?.remoteStatic == initiatorStatic.publicKey)
        }
        return (initiator.transport!, responder.transport!, wire)
    }

    static let allNames: [String] = NoisePattern.knownBaseNames.flatMap { base -> [String] in
        let messages = try! NoisePattern(parsing: base).messages.count
        return [base, "\(base)psk0", "\(base)psk\(messages)", "\(base)psk0+psk\(messages)"]
    }.map { "Noise_\($0)_25519_ChaChaPoly_BLAKE2b" }

    @Test(arguments: allNames)
    func everyPatternCompletesAndCarriesTraffic(_ name: String) throws {
        var (i, r, _) = try Self.handshake(name)
        let sealed = try i.send!.encrypt(ad: [1], plaintext: Array("to responder".utf8))
        #expect(try r.receive!.decrypt(ad: [1], ciphertext: sealed) == Array("to responder".utf8))
        if try NoiseProtocolName(name).pattern.isOneWay {
            #expect(i.receive == nil && r.send == nil)
        } else {
            let back = try r.send!.encrypt(plaintext: [9])
            #expect(try i.receive!.decrypt(ciphertext: back) == [9])
        }
    }

    @Test(arguments: ["Noise_XX_25519_AESGCM_SHA256", "Noise_IK_25519_ChaChaPoly_SHA512", "Noise_NN_25519_AESGCM_BLAKE2b"])
    func otherSuitesLibsodiumProvides(_ name: String) throws {
        _ = try Self.handshake(name)
    }

    @Test func injectedEphemeralsReplayAHandshakeExactly() throws {
        let server = KeyPair.generate(), client = KeyPair.generate()
        let e1 = KeyPair.generate(), e2 = KeyPair.generate()
        let name = try NoiseProtocolName("Noise_IK_25519_ChaChaPoly_BLAKE2b")
        func run() throws -> [[UInt8]] {
            var i = try NoiseHandshake(.init(protocolName: name, role: .initiator, localStatic: client,
                                             remoteStatic: server.publicKey, ephemeralSource: { e1 }))
            var r = try NoiseHandshake(.init(protocolName: name, role: .responder, localStatic: server,
                                             ephemeralSource: { e2 }))
            let m1 = try i.writeMessage(payload: [1])
            _ = try r.readMessage(m1)
            let m2 = try r.writeMessage(payload: [2])
            _ = try i.readMessage(m2)
            return [m1, m2, i.handshakeHash]
        }
        #expect(try run() == run())
    }

    @Test func tamperedTruncatedAndOversizedMessagesAreTypedErrors() throws {
        let server = KeyPair.generate()
        let name = try NoiseProtocolName("Noise_IK_25519_ChaChaPoly_BLAKE2b")
        func responder() throws -> NoiseHandshake {
            try NoiseHandshake(.init(protocolName: name, role: .responder, localStatic: server))
        }
        var initiator = try NoiseHandshake(.init(protocolName: name, role: .initiator, localStatic: .generate(),
                                                 remoteStatic: server.publicKey))
        let message = try initiator.writeMessage(payload: Array("hi".utf8))
        #expect(message.count == 32 + 48 + 16 + 2)
        for index in message.indices {
            var tampered = message
            tampered[index] ^= 0x01
            var r = try responder()
            #expect(throws: NoiseError.decryptionFailed) { _ = try r.readMessage(tampered) }
            #expect(throws: NoiseError.outOfTurn) { _ = try r.readMessage(message) }  // dead after a failure
        }
        for cut in 0..<message.count {
            var r = try responder()
            #expect(throws: NoiseError.self) { _ = try r.readMessage(Array(message.prefix(cut))) }
        }
        var r = try responder()
        #expect(throws: NoiseError.truncatedMessage) { _ = try r.readMessage(Array(message.prefix(40))) }
        var big = try responder()
        #expect(throws: NoiseError.messageTooLarge(65536)) { _ = try big.readMessage([UInt8](repeating: 0, count: 65536)) }
        var writer = try NoiseHandshake(.init(protocolName: name, role: .initiator, localStatic: .generate(),
                                              remoteStatic: server.publicKey))
        #expect(throws: NoiseError.messageTooLarge(65536)) {
            _ = try writer.writeMessage(payload: [UInt8](repeating: 0, count: 65536 - 96))
        }
    }

    @Test func lowOrderPeerKeyIsRefused() throws {
        let name = try NoiseProtocolName("Noise_NN_25519_ChaChaPoly_BLAKE2b")
        var initiator = try NoiseHandshake(.init(protocolName: name, role: .initiator))
        _ = try initiator.writeMessage()
        // The all-zero point: X25519 with it is all zeros, which Kith rejects.
        #expect(throws: NoiseError.invalidPublicKey) { _ = try initiator.readMessage([UInt8](repeating: 0, count: 48)) }
    }

    @Test func configurationErrorsNameWhatIsMissing() throws {
        #expect(throws: NoiseError.missingKey("rs")) {
            _ = try NoiseHandshake(.init(protocolName: try NoiseProtocolName("Noise_IK_25519_ChaChaPoly_BLAKE2b"),
                                         role: .initiator, localStatic: .generate()))
        }
        #expect(throws: NoiseError.missingKey("s")) {
            _ = try NoiseHandshake(.init(protocolName: try NoiseProtocolName("Noise_XX_25519_ChaChaPoly_BLAKE2b"),
                                         role: .responder))
        }
        #expect(throws: NoiseError.self) {
            _ = try NoiseHandshake(.init(protocolName: try NoiseProtocolName("Noise_NNpsk0_25519_ChaChaPoly_BLAKE2b"),
                                         role: .initiator))
        }
        #expect(throws: NoiseError.invalidModifier("psk3")) { _ = try NoiseProtocolName("Noise_NNpsk3_25519_ChaChaPoly_BLAKE2b") }
        #expect(throws: NoiseError.invalidModifier("fallback")) { _ = try NoiseProtocolName("Noise_XXfallback_25519_ChaChaPoly_BLAKE2b") }
        #expect(throws: NoiseError.self) { _ = try NoiseProtocolName("Noise_QQ_25519_ChaChaPoly_BLAKE2b") }
        #expect(throws: NoiseError.self) { _ = try NoiseProtocolName("Noise_NN_448_ChaChaPoly_BLAKE2b") }
        #expect(throws: NoiseError.self) { _ = try NoiseProtocolName("Noise_NN_25519_ChaChaPoly_BLAKE2s") }
        var initiator = try NoiseHandshake(.init(protocolName: try NoiseProtocolName("Noise_NN_25519_ChaChaPoly_BLAKE2b"),
                                                 role: .initiator))
        #expect(throws: NoiseError.outOfTurn) { _ = try initiator.readMessage([UInt8](repeating: 1, count: 48)) }
    }

    @Test func cipherStateRefusesTheReservedNonceAndRekeys() throws {
        let (i, r, _) = try Self.handshake("Noise_NN_25519_ChaChaPoly_BLAKE2b")
        var send = i.send!, receive = r.receive!
        send.setNonce(CipherState.reservedNonce - 1)
        receive.setNonce(CipherState.reservedNonce - 1)
        let last = try send.encrypt(plaintext: [1])
        #expect(try receive.decrypt(ciphertext: last) == [1])
        #expect(throws: NoiseError.nonceExhausted) { _ = try send.encrypt(plaintext: [2]) }
        #expect(throws: NoiseError.nonceExhausted) { _ = try receive.decrypt(ciphertext: last) }

        var a = i.send!, b = r.receive!
        let before = try a.encrypt(plaintext: [7])
        a.rekey(); b.rekey()
        #expect(a.nonce == 1 && b.nonce == 0)  // rekey keeps the nonce
        #expect(throws: NoiseError.decryptionFailed) { _ = try b.decrypt(ciphertext: before) }
        b.setNonce(1)
        #expect(try b.decrypt(ciphertext: try a.encrypt(plaintext: [8])) == [8])
    }

    @Test func keysAreLengthChecked() {
        #expect(PrivateKey(rawValue: [UInt8](repeating: 1, count: 31)) == nil)
        #expect(PublicKey(rawValue: [UInt8](repeating: 1, count: 33)) == nil)
        #expect(SigningPublicKey(rawValue: [UInt8]()) == nil)
        #expect(DeviceIdentity(seed: [UInt8](repeating: 0, count: 16)) == nil)
    }
}

/// Known answers computed by Tools/make-vectors (Python `cryptography`), so the nonce layouts
/// and Rekey are checked against another implementation, not against themselves.
@Suite struct CipherStateVectorTests {
    struct Vector: Decodable, CustomTestStringConvertible {
        let tcId: Int, comment: String, cipher: String, key: String, nonce: UInt64, ad: String, plaintext: String
        let ciphertext: String
        let rekey: Bool?
        var testDescription: String { "#\(tcId) \(comment)" }
    }

    @Test(arguments: try VectorFile<Vector>.load("cipher.json"))
    func knownAnswers(_ v: Vector) throws {
        var state = CipherState(cipher: try #require(NoiseCipher(rawValue: v.cipher)),
                                key: SecretBytes([UInt8](vectorHex: v.key)))
        if v.rekey == true { state.rekey() }
        let sealed = try state.encrypt(nonce: v.nonce, ad: [UInt8](vectorHex: v.ad), plaintext: [UInt8](vectorHex: v.plaintext))
        #expect(sealed == [UInt8](vectorHex: v.ciphertext))
        #expect(try state.decrypt(nonce: v.nonce, ad: [UInt8](vectorHex: v.ad), ciphertext: sealed) == [UInt8](vectorHex: v.plaintext))
    }

    /// libcrypto has what `NoiseCipher` and `ChunkTagger` ask of it here: without it they fall back
    /// to libsodium, with the same bytes, so only this test would notice that a push got slower.
    @Test func libcryptoHasTheCiphersAndPoly1305() {
        let key = [UInt8](repeating: 1, count: 32), nonce = [UInt8](repeating: 0, count: 12)
        let message = [UInt8](repeating: 2, count: 2048)
        var out = [UInt8](repeating: 0, count: 2048 + 16)
        for cipher in [KITH_AEAD_CHACHA20_POLY1305, KITH_AEAD_AES256_GCM] {
            #expect(kith_aead_seal(Int32(cipher), key, nonce, nil, 0, message, message.count, &out) == 0, "cipher \(cipher)")
        }
        let state = kith_poly1305_start(key)
        #expect(state != nil)
        if let state { kith_poly1305_discard(state) }
    }

    /// Small messages go through libsodium, large ones through libcrypto (`NoiseCipher.libcryptoFrom`):
    /// both open what the other sealed, and both refuse a flipped bit anywhere, tag or text.
    @Test(arguments: [NoiseCipher.chaChaPoly, .aesGCM], [0, 1, 1023, 1024, 1025, 64000, 65519])
    func everySizeOpensAndAFlippedBitIsRefused(_ cipher: NoiseCipher, size: Int) throws {
        let key = SecretBytes((0..<32).map { UInt8($0) })
        let state = CipherState(cipher: cipher, key: key)
        let plaintext = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        let sealed = try state.encrypt(nonce: 3, ad: [1, 2], plaintext: plaintext)
        #expect(try state.decrypt(nonce: 3, ad: [1, 2], ciphertext: sealed) == plaintext)
        for position in Set([0, sealed.count / 2, sealed.count - 1]) {
            var tampered = sealed
            tampered[position] ^= 0x10
            #expect(throws: NoiseError.decryptionFailed) { try state.decrypt(nonce: 3, ad: [1, 2], ciphertext: tampered) }
        }
        #expect(throws: NoiseError.decryptionFailed) { try state.decrypt(nonce: 4, ad: [1, 2], ciphertext: sealed) }
        #expect(throws: NoiseError.decryptionFailed) { try state.decrypt(nonce: 3, ad: [1], ciphertext: sealed) }
    }
}
