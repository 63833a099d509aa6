import Testing
@testable import KithCore
import KithCrypto
import KithWire

/// The transport cipher of a device-to-device channel (spec §Handshakes, Transport cipher): the
/// choice alone, then two channels agreeing on it, including with an older peer's empty payloads.
@Suite struct TransportCipherChoiceTests {
    @Test func anOfferListsPreferenceAndAlwaysChaCha() {
        #expect(TransportCipherChoice.offer([.aesGCM, .chaChaPoly]) == [2, 1])
        #expect(TransportCipherChoice.offer([.aesGCM]) == [2, 1])
        #expect(TransportCipherChoice.offer([.chaChaPoly, .aesGCM]) == [1, 2])
        // ChaCha20-Poly1305 alone is what an older initiator means by its empty payload.
        #expect(TransportCipherChoice.offer([.chaChaPoly]) == [])
        #expect(TransportCipherChoice.offer([]) == [])
    }

    @Test func theResponderTakesTheFirstOfTheOfferItUses() throws {
        #expect(try TransportCipherChoice.choose(offer: [2, 1], ours: [.aesGCM, .chaChaPoly]) == (.aesGCM, [2]))
        #expect(try TransportCipherChoice.choose(offer: [2, 1], ours: [.chaChaPoly]) == (.chaChaPoly, [1]))
        #expect(try TransportCipherChoice.choose(offer: [1, 2], ours: [.aesGCM, .chaChaPoly]) == (.chaChaPoly, [1]))
        // Numbers it does not know are skipped: a newer initiator's cipher.
        #expect(try TransportCipherChoice.choose(offer: [9, 2, 1], ours: [.aesGCM]) == (.aesGCM, [2]))
        // An older initiator: empty offer, ChaCha20-Poly1305, empty answer.
        #expect(try TransportCipherChoice.choose(offer: [], ours: [.aesGCM, .chaChaPoly]) == (.chaChaPoly, []))
    }

    @Test func aBadOfferIsRefused() throws {
        #expect(throws: WireError.self) { try TransportCipherChoice.choose(offer: [2], ours: [.chaChaPoly]) }
        #expect(throws: WireError.self) { try TransportCipherChoice.choose(offer: [7, 8], ours: [.aesGCM, .chaChaPoly]) }
        // Every offer lists 1, even where the responder would take an earlier number.
        #expect(throws: WireError.malformed("cipher offer: no 1 (ChaCha20-Poly1305) in [2]")) {
            try TransportCipherChoice.choose(offer: [2], ours: [.aesGCM, .chaChaPoly])
        }
        // A number twice is harmless: the first that the responder uses wins.
        #expect(try TransportCipherChoice.choose(offer: [2, 2, 1, 1], ours: [.chaChaPoly]) == (.chaChaPoly, [1]))
        let long = [UInt8](repeating: 1, count: TransportCipherChoice.maxOffer + 1)
        #expect(throws: WireError.oversized("cipher offer: 17 numbers")) { try TransportCipherChoice.choose(offer: long, ours: []) }
    }

    @Test func theInitiatorTakesOnlyWhatItOffered() throws {
        #expect(try TransportCipherChoice.accept(answer: [2], offer: [2, 1]) == .aesGCM)
        #expect(try TransportCipherChoice.accept(answer: [1], offer: [2, 1]) == .chaChaPoly)
        // An older responder answers nothing: ChaCha20-Poly1305.
        #expect(try TransportCipherChoice.accept(answer: [], offer: [2, 1]) == .chaChaPoly)
        #expect(throws: WireError.self) { try TransportCipherChoice.accept(answer: [2], offer: []) }
        #expect(throws: WireError.self) { try TransportCipherChoice.accept(answer: [2, 1], offer: [2, 1]) }
        #expect(throws: WireError.self) { try TransportCipherChoice.accept(answer: [3], offer: [2, 1, 3]) }
    }

    @Test func aMachineWithoutAESInstructionsOrForcedOffUsesChaChaOnly() {
        #expect(TransportCipherChoice.local(aesAllowed: true, aesInHardware: true) == [.aesGCM, .chaChaPoly])
        #expect(TransportCipherChoice.local(aesAllowed: true, aesInHardware: false) == [.chaChaPoly])
        #expect(TransportCipherChoice.local(aesAllowed: false, aesInHardware: true) == [.chaChaPoly])
    }

    // MARK: - Two channels

    static let sender = KeyPair.generate()
    static let receiver = KeyPair.generate()

    /// Runs a device-to-device handshake and one envelope each way; returns both ends.
    static func connect(sender senderCiphers: [NoiseCipher], receiver receiverCiphers: [NoiseCipher],
                        channel: Preamble.Channel = .deviceToDevice) throws -> (SecureChannelTests.Pair, sent: Bool) {
        var pair = SecureChannelTests.Pair(
            client: SecureChannel(role: .initiator(channel: channel, remoteStatic: receiver.publicKey),
                                  localStatic: sender, ciphers: senderCiphers),
            server: SecureChannel(role: .responder(accepting: [channel]), localStatic: receiver, ciphers: receiverCiphers))
        pair.pump(client: [], server: pair.server.start())
        pair.pump(client: pair.client.start())
        guard pair.client.isOpen && pair.server.isOpen else { return (pair, false) }
        pair.pump(client: try pair.client.send(SecureChannelTests.hello))
        pair.pump(client: [], server: try pair.server.send(Envelope(requestID: 5, .pong(.init(nonce: 1)))))
        return (pair, pair.delivered.server == [SecureChannelTests.hello] && pair.delivered.client.count == 1)
    }

    @Test(.enabled(if: NoiseCipher.aesGCMInHardware, "this CPU has no AES instructions"))
    func twoDevicesWithAESInstructionsAgreeOnAESGCM() throws {
        let (pair, sent) = try Self.connect(sender: [.aesGCM, .chaChaPoly], receiver: [.aesGCM, .chaChaPoly])
        #expect(sent)
        #expect(pair.client.transportCipher == .aesGCM && pair.server.transportCipher == .aesGCM)
    }

    /// A machine without AES instructions (forced) against one with them, either way round.
    @Test(arguments: [true, false])
    func aDeviceWithoutAESInstructionsGetsChaCha(senderHasAES: Bool) throws {
        let with: [NoiseCipher] = [.aesGCM, .chaChaPoly], without: [NoiseCipher] = TransportCipherChoice.local(aesAllowed: false)
        let (pair, sent) = try Self.connect(sender: senderHasAES ? with : without, receiver: senderHasAES ? without : with)
        #expect(sent)
        #expect(pair.client.transportCipher == .chaChaPoly && pair.server.transportCipher == .chaChaPoly)
    }

    /// An older receiver ignores the offer and answers with an empty payload: ChaCha20-Poly1305.
    @Test func anOlderReceiverAnswersNothingAndGetsChaCha() throws {
        var client = SecureChannel(role: .initiator(channel: .deviceToDevice, remoteStatic: Self.receiver.publicKey),
                                   localStatic: Self.sender, ciphers: [.aesGCM, .chaChaPoly])
        guard case .write(let first)? = client.start().first else { Issue.record("no first write"); return }
        let preamble = Array(first.prefix(Preamble.length))
        var older = try NoiseHandshake(.init(protocolName: SecureChannel.protocolName(for: .deviceToDevice), role: .responder,
                                             prologue: preamble, localStatic: Self.receiver))
        #expect(try older.readMessage(Array(first.dropFirst(Preamble.length + 2))) == [2, 1])
        let established = client.receive(preamble + (try FrameDecoder.encode(try older.writeMessage())))
        #expect(established.contains { if case .established = $0 { true } else { false } })
        #expect(client.transportCipher == .chaChaPoly)
        var send = try #require(older.transport?.send)
        #expect(send.cipher == .chaChaPoly)
        let hello = try send.encrypt(plaintext: try SecureChannelTests.hello.encode())
        #expect(client.receive(try FrameDecoder.encode(hello)) == [.deliver(SecureChannelTests.hello)])
    }

    /// An older sender offers nothing (an empty payload); the answer is empty too, and the
    /// transport ChaCha20-Poly1305, as before.
    @Test func anOlderSenderGetsAnEmptyAnswerAndChaCha() throws {
        var server = SecureChannel(role: .responder(accepting: [.deviceToDevice]), localStatic: Self.receiver,
                                   ciphers: [.aesGCM, .chaChaPoly])
        _ = server.start()
        let preamble = Preamble(channel: .deviceToDevice).bytes
        var older = try NoiseHandshake(.init(protocolName: SecureChannel.protocolName(for: .deviceToDevice), role: .initiator,
                                             prologue: preamble, localStatic: Self.sender, remoteStatic: Self.receiver.publicKey))
        let actions = server.receive(preamble + (try FrameDecoder.encode(try older.writeMessage())))
        guard case .write(let reply)? = actions.first else { Issue.record("no reply"); return }
        #expect(try older.readMessage(Array(reply.dropFirst(Preamble.length + 2))) == [])
        #expect(server.transportCipher == .chaChaPoly)
        var send = try #require(older.transport?.send)
        let hello = try send.encrypt(plaintext: try SecureChannelTests.hello.encode())
        #expect(server.receive(try FrameDecoder.encode(hello)) == [.deliver(SecureChannelTests.hello)])
    }

    /// An answer naming a cipher that was not offered, or two, ends the channel.
    @Test func aForgedAnswerIsNotPossibleAndABadOneCloses() throws {
        var client = SecureChannel(role: .initiator(channel: .deviceToDevice, remoteStatic: Self.receiver.publicKey),
                                   localStatic: Self.sender, ciphers: [.chaChaPoly])
        guard case .write(let first)? = client.start().first else { Issue.record("no first write"); return }
        let preamble = Array(first.prefix(Preamble.length))
        var responder = try NoiseHandshake(.init(protocolName: SecureChannel.protocolName(for: .deviceToDevice), role: .responder,
                                                 prologue: preamble, localStatic: Self.receiver))
        _ = try responder.readMessage(Array(first.dropFirst(Preamble.length + 2)))
        let answer = try responder.writeMessage(payload: [TransportCipherChoice.wireID(.aesGCM)])
        let actions = client.receive(preamble + (try FrameDecoder.encode(answer)))
        #expect(actions == [.close(.malformed("cipher answer: 2 was not offered"))])
    }

    /// Under AES-256-GCM a direction carries at most `aesGCMMessageLimit` messages; the side that
    /// would send or open one more closes the channel (`oversized`), and a new channel has new keys.
    @Test(.enabled(if: NoiseCipher.aesGCMInHardware, "this CPU has no AES instructions"))
    func anAESChannelClosesAtItsMessageLimit() throws {
        let ciphers: [NoiseCipher] = [.aesGCM, .chaChaPoly]
        func pair(senderLimit: UInt64, receiverLimit: UInt64) -> SecureChannelTests.Pair {
            var pair = SecureChannelTests.Pair(
                client: SecureChannel(role: .initiator(channel: .deviceToDevice, remoteStatic: Self.receiver.publicKey),
                                      localStatic: Self.sender, ciphers: ciphers, aesGCMMessageLimit: senderLimit),
                server: SecureChannel(role: .responder(accepting: [.deviceToDevice]), localStatic: Self.receiver, ciphers: ciphers,
                                      aesGCMMessageLimit: receiverLimit))
            pair.pump(client: [], server: pair.server.start())
            pair.pump(client: pair.client.start())
            return pair
        }
        var atTheSender = pair(senderLimit: 3, receiverLimit: 100)
        for _ in 0..<3 { atTheSender.pump(client: try atTheSender.client.send(SecureChannelTests.hello)) }
        #expect(atTheSender.delivered.server.count == 3 && atTheSender.client.isOpen)
        #expect(try atTheSender.client.send(SecureChannelTests.hello) == [.close(.oversized("channel: 3 messages under one AES-256-GCM key; open a new channel"))])

        var atTheReceiver = pair(senderLimit: 100, receiverLimit: 2)
        for _ in 0..<3 { atTheReceiver.pump(client: try atTheReceiver.client.send(SecureChannelTests.hello)) }
        #expect(atTheReceiver.delivered.server.count == 2)
        #expect(atTheReceiver.closed.server?.kind == .oversized)

        // ChaCha20-Poly1305 has no such bound.
        var chacha = SecureChannelTests.Pair(
            client: SecureChannel(role: .initiator(channel: .deviceToDevice, remoteStatic: Self.receiver.publicKey),
                                  localStatic: Self.sender, aesGCMMessageLimit: 1),
            server: SecureChannel(role: .responder(accepting: [.deviceToDevice]), localStatic: Self.receiver, aesGCMMessageLimit: 1))
        chacha.pump(client: [], server: chacha.server.start())
        chacha.pump(client: chacha.client.start())
        for _ in 0..<3 { chacha.pump(client: try chacha.client.send(SecureChannelTests.hello)) }
        #expect(chacha.delivered.server.count == 3)
    }

    /// Other channel kinds carry no offer: a server channel stays on ChaCha20-Poly1305 whatever
    /// the ends would use.
    @Test func onlyDeviceChannelsNegotiate() throws {
        let (pair, sent) = try Self.connect(sender: [.aesGCM, .chaChaPoly], receiver: [.aesGCM, .chaChaPoly], channel: .agentToServer)
        #expect(sent)
        #expect(pair.client.transportCipher == .chaChaPoly && pair.server.transportCipher == .chaChaPoly)
    }
}
