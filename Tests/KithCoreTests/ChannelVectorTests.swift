import KithTestSupport
import Testing
@testable import KithCore
import KithCrypto
import KithWire

/// Protocol/vectors/channel.json, computed by Tools/make-vectors (a Noise_IK written out in
/// Python from the Noise specification): a device-to-device channel's handshake bytes, its cipher
/// offer and answer, and the first transport message each way, replayed through `SecureChannel`
/// with the vector's ephemeral keys, so the bytes must match exactly.
@Suite struct ChannelVectorTests {
    struct Vector: Decodable, CustomTestStringConvertible {
        let tcId: Int, comment: String, result: String, sides: [String]
        let initiatorStatic: String, initiatorEphemeral: String, responderStatic: String, responderEphemeral: String
        let initiatorCiphers: [String], responderCiphers: [String]
        let preamble: String, message1: String, message2: String
        let cipher: String?, ping: String?, pingSealed: [String]?, pong: String?, pongSealed: [String]?
        let error: String?
        var testDescription: String { "#\(tcId) \(comment)" }
        /// A side that uses AES-256-GCM: run only on a CPU with AES instructions, since elsewhere
        /// a channel drops AES from what it uses (and libsodium has no AES-GCM).
        var needsAES: Bool { (initiatorCiphers + responderCiphers).contains("AESGCM") }
    }

    static func vectors(side: String) throws -> [Vector] {
        try VectorFile<Vector>.load("channel.json").filter { $0.sides.contains(side) && (!$0.needsAES || NoiseCipher.aesGCMInHardware) }
    }

    static func keys(_ hex: String) -> KeyPair { KeyPair(privateKey: PrivateKey(rawValue: [UInt8](vectorHex: hex))!) }
    static func ciphers(_ names: [String]) -> [NoiseCipher] { names.map { NoiseCipher(rawValue: $0)! } }
    static func frame(_ hex: String) throws -> [UInt8] { try FrameDecoder.encode([UInt8](vectorHex: hex)) }
    static func envelope(_ hex: String?) throws -> Envelope { try Envelope.decode([UInt8](vectorHex: hex!)[...]) }

    static func closed(_ actions: [SecureChannel.Action]) -> WireError? {
        for case .close(let error) in actions { return error }
        return nil
    }

    @Test(arguments: try vectors(side: "responder"))
    func theResponderReadsMessage1(_ v: Vector) throws {
        let ephemeral = Self.keys(v.responderEphemeral)
        var responder = SecureChannel(role: .responder(accepting: [.deviceToDevice]), localStatic: Self.keys(v.responderStatic),
                                      ciphers: Self.ciphers(v.responderCiphers), ephemeralSource: { ephemeral })
        _ = responder.start()
        let actions = responder.receive([UInt8](vectorHex: v.preamble) + (try Self.frame(v.message1)))
        guard v.result == "valid" else {
            #expect(Self.closed(actions)?.kind.rawValue == v.error)
            return
        }
        #expect(actions.first == .write([UInt8](vectorHex: v.preamble) + (try Self.frame(v.message2))))
        #expect(actions.count == 2 && Self.closed(actions) == nil)
        #expect(responder.transportCipher.rawValue == v.cipher)
        for sealed in v.pingSealed! { #expect(responder.receive(try Self.frame(sealed)) == [.deliver(try Self.envelope(v.ping))]) }
        for sealed in v.pongSealed! { #expect(try responder.send(try Self.envelope(v.pong)) == [.write(try Self.frame(sealed))]) }
    }

    @Test(arguments: try vectors(side: "initiator"))
    func theInitiatorReadsMessage2(_ v: Vector) throws {
        let ephemeral = Self.keys(v.initiatorEphemeral)
        var initiator = SecureChannel(role: .initiator(channel: .deviceToDevice, remoteStatic: Self.keys(v.responderStatic).publicKey),
                                      localStatic: Self.keys(v.initiatorStatic), ciphers: Self.ciphers(v.initiatorCiphers),
                                      ephemeralSource: { ephemeral })
        #expect(initiator.start() == [.write([UInt8](vectorHex: v.preamble) + (try Self.frame(v.message1)))])
        let actions = initiator.receive([UInt8](vectorHex: v.preamble) + (try Self.frame(v.message2)))
        guard v.result == "valid" else {
            #expect(Self.closed(actions)?.kind.rawValue == v.error)
            return
        }
        #expect(actions.count == 1 && Self.closed(actions) == nil)
        #expect(initiator.transportCipher.rawValue == v.cipher)
        for sealed in v.pingSealed! { #expect(try initiator.send(try Self.envelope(v.ping)) == [.write(try Self.frame(sealed))]) }
        for sealed in v.pongSealed! { #expect(initiator.receive(try Self.frame(sealed)) == [.deliver(try Self.envelope(v.pong))]) }
    }
}
