import KithTestSupport
import Testing
@testable import KithCore
import KithCrypto
import KithWire

/// Two SecureChannel state machines wired back to back, the way swift-nio-ssh tests its
/// connection state machine: each side's writes become the other's reads.
@Suite struct SecureChannelTests {
    struct Pair {
        var client: SecureChannel
        var server: SecureChannel
        var delivered: (client: [Envelope], server: [Envelope]) = ([], [])
        var established: (client: PublicKey?, server: PublicKey?) = (nil, nil)
        var closed: (client: WireError?, server: WireError?) = (nil, nil)
        var chunking: ([UInt8]) -> [[UInt8]] = { [$0] }

        /// Runs actions until neither side has anything more to say.
        mutating func pump(client clientActions: [SecureChannel.Action], server serverActions: [SecureChannel.Action] = []) {
            var toServer = clientActions, toClient = serverActions
            while !toServer.isEmpty || !toClient.isEmpty {
                let a = toServer, b = toClient
                toServer = []; toClient = []
                for action in a {
                    switch action {
                    case .write(let bytes): for chunk in chunking(bytes) { toClient += server.receive(chunk) }
                    case .established(let key, _): established.client = key
                    case .deliver(let envelope): delivered.client.append(envelope)
                    case .close(let error): closed.client = error
                    }
                }
                for action in b {
                    switch action {
                    case .write(let bytes): for chunk in chunking(bytes) { toServer += client.receive(chunk) }
                    case .established(let key, _): established.server = key
                    case .deliver(let envelope): delivered.server.append(envelope)
                    case .close(let error): closed.server = error
                    }
                }
            }
        }
    }

    static let serverKey = KeyPair.generate()
    static let clientKey = KeyPair.generate()

    static func pair(serverKnownAs key: PublicKey = serverKey.publicKey, channel: Preamble.Channel = .agentToServer) -> Pair {
        Pair(client: SecureChannel(role: .initiator(channel: channel, remoteStatic: key), localStatic: clientKey),
             server: SecureChannel(role: .responder(accepting: [.agentToServer, .pairing]), localStatic: serverKey))
    }

    static let hello = Envelope(.hello(.init(protocolVersion: 0, software: "kith/test")))

    @Test(arguments: ["whole", "dripped", "random chunks"])
    func handshakeThenEnvelopesBothWays(_ delivery: String) throws {
        var pair = Self.pair()
        pair.chunking = { bytes in deliveries(of: bytes).first { $0.name == delivery }!.chunks }
        pair.pump(client: [], server: pair.server.start())
        pair.pump(client: pair.client.start())
        #expect(pair.closed.client == nil && pair.closed.server == nil)
        #expect(pair.established.client == Self.serverKey.publicKey)
        #expect(pair.established.server == Self.clientKey.publicKey)
        #expect(pair.client.isOpen && pair.server.isOpen)
        pair.pump(client: try pair.client.send(Self.hello))
        pair.pump(client: [], server: try pair.server.send(Envelope(requestID: 5, .pong(.init(nonce: 1)))))
        #expect(pair.delivered.server == [Self.hello])
        #expect(pair.delivered.client == [Envelope(requestID: 5, .pong(.init(nonce: 1)))])
    }

    @Test func pairingChannelUsesXXAndLearnsTheKey() throws {
        var pair = Pair(client: SecureChannel(role: .initiator(channel: .pairing, remoteStatic: nil), localStatic: Self.clientKey),
                        server: SecureChannel(role: .responder(accepting: [.pairing]), localStatic: Self.serverKey))
        pair.pump(client: [], server: pair.server.start())
        pair.pump(client: pair.client.start())
        #expect(pair.established.client == Self.serverKey.publicKey)
        #expect(pair.established.server == Self.clientKey.publicKey)
    }

    @Test func pairingWithAPinnedKeyRefusesAnyOther() throws {
        var pair = Self.pair(serverKnownAs: KeyPair.generate().publicKey, channel: .pairing)
        pair.pump(client: [], server: pair.server.start())
        pair.pump(client: pair.client.start())
        #expect(pair.established.client == nil)
        #expect(pair.closed.client?.kind == .authenticationFailed)
    }

    @Test func wrongServerKeyFailsTheHandshake() {
        var pair = Self.pair(serverKnownAs: KeyPair.generate().publicKey)
        pair.pump(client: [], server: pair.server.start())
        pair.pump(client: pair.client.start())
        #expect(pair.closed.server?.kind == .authenticationFailed)
        #expect(pair.established.server == nil && pair.established.client == nil)
    }

    @Test func tamperedFrameClosesTheChannel() throws {
        var pair = Self.pair()
        pair.pump(client: [], server: pair.server.start())
        pair.pump(client: pair.client.start())
        guard case .write(var bytes) = try pair.client.send(Self.hello).first else { Issue.record("no write"); return }
        bytes[bytes.count - 1] ^= 1
        pair.pump(client: [.write(bytes)])
        #expect(pair.closed.server?.kind == .authenticationFailed)
        #expect(pair.server.isClosed)
        #expect(pair.server.receive([1, 2, 3]) == [])  // closed stays closed
    }

    @Test func unknownMessageTypeIsAnsweredAndTheChannelStaysOpen() throws {
        var (server, transport) = try Self.rawInitiator()
        let reply = try Self.exchange(&server, &transport, [0, 0x77, 0x77, 0, 0, 0, 9])  // a type from the future
        #expect(reply.requestID == 9)
        guard case .errorMessage(let error) = reply.message else { Issue.record("not an error"); return }
        #expect(error.code == ErrorCode.unknownMessage.rawValue)
        #expect(error.message == "unknown message type 30583")
        #expect(server.isOpen)
        // The reply used the next nonce: what the server sends after it still decrypts.
        guard case .write(let next) = try server.send(Envelope(requestID: 10, .pong(.init(nonce: 1)))).first else {
            Issue.record("no write"); return
        }
        let after = try Envelope.decode(try transport.receive!.decrypt(ciphertext: Array(next.dropFirst(2)))[...])
        #expect(after == Envelope(requestID: 10, .pong(.init(nonce: 1))))
    }

    /// A peer that authenticates but sends a bad envelope hears why, then loses the channel.
    @Test func malformedEnvelopeIsAnsweredThenTheChannelCloses() throws {
        var writer = FieldWriter()
        try writer.write(1, UInt16(0))
        try writer.write(2, String(repeating: "k", count: 65))  // Hello.software is limited to 64 bytes
        var (server, transport) = try Self.rawInitiator()
        let reply = try Self.exchange(&server, &transport, [0, 0, 4, 0, 0, 0, 8] + writer.bytes)
        #expect(server.isClosed)
        #expect(reply.requestID == 8)
        guard case .errorMessage(let error) = reply.message else { Issue.record("no error reply"); return }
        #expect(error.code == ErrorCode.tooLarge.rawValue)
    }

    /// A responder after an IK handshake with a hand-driven initiator, whose transport can send
    /// envelope bytes no real SecureChannel would produce.
    static func rawInitiator() throws -> (SecureChannel, NoiseTransport) {
        let prologue = Preamble(channel: .agentToServer).bytes
        var initiator = try NoiseHandshake(.init(protocolName: SecureChannel.protocolName(for: .agentToServer),
                                                 role: .initiator, prologue: prologue,
                                                 localStatic: clientKey, remoteStatic: serverKey.publicKey))
        var server = SecureChannel(role: .responder(accepting: [.agentToServer]), localStatic: serverKey)
        _ = server.start()
        let replies = server.receive(prologue + (try FrameDecoder.encode(try initiator.writeMessage())))
        guard replies.count == 2, case .write(let bytes) = replies[0], bytes.starts(with: prologue) else {
            throw WireError.malformed("expected preamble with the handshake reply, then established: \(replies)")
        }
        _ = try initiator.readMessage(Array(bytes.dropFirst(prologue.count + 2)))
        return (server, initiator.transport!)
    }

    /// Sends `plaintext` as one transport frame and returns the responder's first envelope back.
    static func exchange(_ server: inout SecureChannel, _ transport: inout NoiseTransport,
                         _ plaintext: [UInt8]) throws -> Envelope {
        let actions = server.receive(try FrameDecoder.encode(try transport.send!.encrypt(plaintext: plaintext)))
        guard case .write(let answer) = actions.first else { throw WireError.malformed("no answer: \(actions)") }
        return try Envelope.decode(try transport.receive!.decrypt(ciphertext: Array(answer.dropFirst(2)))[...])
    }

    @Test func initiatorReportsAResponderOfAnotherVersion() {
        var client = SecureChannel(role: .initiator(channel: .agentToServer, remoteStatic: Self.serverKey.publicKey),
                                   localStatic: Self.clientKey)
        _ = client.start()
        let actions = client.receive(Preamble(version: 3, channel: .agentToServer).bytes)
        #expect(actions.count == 1)
        #expect(actions.first.map { if case .close(let e) = $0 { e.kind == .unsupportedVersion } else { false } } == true)
    }

    @Test func futureVersionGetsOurPreambleAndAClose() {
        var server = SecureChannel(role: .responder(accepting: [.agentToServer]), localStatic: Self.serverKey)
        _ = server.start()
        let actions = server.receive(Preamble(version: 9, channel: .agentToServer).bytes)
        #expect(actions.first == .write(Preamble(channel: .agentToServer).bytes))
        #expect(actions.last.map { if case .close(let e) = $0 { e.kind == .unsupportedVersion } else { false } } == true)
    }

    @Test func garbageAndRefusedChannelsClose() {
        for bytes in [Array("GET / HTTP/1.1\r\n".utf8), Preamble(channel: .deviceToDevice).bytes] {
            var server = SecureChannel(role: .responder(accepting: [.agentToServer]), localStatic: Self.serverKey)
            _ = server.start()
            let actions = server.receive(bytes)
            #expect(actions.count == 1)
            #expect(server.isClosed)
        }
    }

    @Test func sendingBeforeTheHandshakeIsAnError() {
        var client = SecureChannel(role: .initiator(channel: .agentToServer, remoteStatic: Self.serverKey.publicKey),
                                   localStatic: Self.clientKey)
        _ = client.start()
        #expect(throws: WireError.self) { _ = try client.send(Self.hello) }
    }
}
