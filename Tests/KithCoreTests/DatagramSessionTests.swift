import KithTestSupport
import Testing
@testable import KithCore
@testable import KithCrypto
@testable import KithWire

@Suite struct DatagramSessionTests {
    /// Two ends of an IK handshake over datagrams, as a device pair would run it.
    static func pair() throws -> (DatagramSession, DatagramSession) {
        let a = KeyPair.generate(), b = KeyPair.generate()
        let name = try NoiseProtocolName("Noise_IK_25519_ChaChaPoly_BLAKE2b")
        var i = try NoiseHandshake(.init(protocolName: name, role: .initiator, localStatic: a, remoteStatic: b.publicKey))
        var r = try NoiseHandshake(.init(protocolName: name, role: .responder, localStatic: b))
        let initiation = try Datagram.handshakeInitiation(senderIndex: 11, noiseMessage: try i.writeMessage()).encode()
        guard case let .handshakeInitiation(sender, m1) = try Datagram.decode(initiation[...]) else { throw WireError.malformed("") }
        _ = try r.readMessage(m1)
        let response = try Datagram.handshakeResponse(senderIndex: 22, receiverIndex: sender,
                                                      noiseMessage: try r.writeMessage()).encode()
        guard case let .handshakeResponse(responder, _, m2) = try Datagram.decode(response[...]) else { throw WireError.malformed("") }
        _ = try i.readMessage(m2)
        return (DatagramSession(transport: i.transport!, localIndex: 11, remoteIndex: responder),
                DatagramSession(transport: r.transport!, localIndex: 22, remoteIndex: sender))
    }

    static func open(_ session: inout DatagramSession, _ packet: [UInt8]) throws -> [UInt8] {
        guard case let .transportData(receiver, counter, ciphertext) = try Datagram.decode(packet[...]) else {
            throw WireError.unknownType("not transport data")
        }
        return try session.open(receiverIndex: receiver, counter: counter, ciphertext: ciphertext)
    }

    @Test func outOfOrderDeliveryWorksAndReplaysAreRefused() throws {
        var (a, b) = try Self.pair()
        let packets = try (0..<50).map { try a.seal([UInt8]("note \($0)".utf8)) }
        var random = SplitMix64(seed: 5)
        for index in packets.indices.shuffled(using: &random) {
            #expect(try Self.open(&b, packets[index]) == [UInt8]("note \(index)".utf8))
        }
        #expect(throws: WireError.authenticationFailed("session: counter 7 replayed or too old")) {
            _ = try Self.open(&b, packets[7])
        }
        #expect(try Self.open(&a, try b.seal([1])) == [1])
    }

    @Test func everyTamperedByteIsRefusedAndDoesNotMoveTheWindow() throws {
        var (a, b) = try Self.pair()
        let packet = try a.seal([UInt8]("hello".utf8))
        for index in packet.indices {
            var tampered = packet
            tampered[index] ^= 0x80
            #expect(throws: WireError.self) { _ = try Self.open(&b, tampered) }
        }
        #expect(try Self.open(&b, packet) == [UInt8]("hello".utf8))
    }

    struct Vector: Decodable, CustomTestStringConvertible {
        struct Meaning: Decodable { let plaintext: String }
        let tcId: Int, comment: String, result: String, hex: String, key: String, localIndex: UInt32
        let meaning: Meaning?
        let error: String?
        var testDescription: String { "#\(tcId) \(comment)" }
    }

    @Test(arguments: try VectorFile<Vector>.load("transport.json"))
    func vectors(_ v: Vector) throws {
        let cipher = CipherState(cipher: .chaChaPoly, key: SecretBytes([UInt8](vectorHex: v.key)))
        var session = DatagramSession(transport: NoiseTransport(send: cipher, receive: cipher, handshakeHash: [],
                                                                remoteStatic: nil),
                                      localIndex: v.localIndex, remoteIndex: 0)
        do {
            let plaintext = try Self.open(&session, [UInt8](vectorHex: v.hex))
            #expect(v.result == "valid")
            #expect(plaintext == [UInt8](vectorHex: v.meaning!.plaintext))
        } catch let error as WireError {
            #expect(error.kind.rawValue == v.error)
        }
    }
}
