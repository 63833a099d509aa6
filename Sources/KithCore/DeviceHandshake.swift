import KithCrypto
import KithWire

/// The UDP handshake between two devices (spec §UDP packets, Handshake over UDP):
/// `Noise_IK_25519_ChaChaPoly_BLAKE2b` with the peer's key from the device list, the channel
/// kind 2 preamble as prologue, and the initiator's clock in message 1 so that a replayed
/// initiation is refused (as WireGuard's TAI64N timestamp does).
public enum DeviceHandshake {
    static let protocolName = try! NoiseProtocolName("Noise_IK_25519_ChaChaPoly_BLAKE2b")
    static var prologue: [UInt8] { Preamble(channel: .deviceToDevice).bytes }

    /// An initiation in flight: finish it with the response.
    public struct Pending {
        public let localIndex: UInt32
        public let peerKey: PublicKey
        /// The initiation's mac1: a cookie reply to it is sealed with it as additional data.
        public let mac1: [UInt8]
        var handshake: NoiseHandshake
    }

    /// Message 1 for `peerKey`, as a whole datagram (type 1, or type 7 with mac2 when the
    /// responder gave a `cookie`), and the state that waits for message 2.
    public static func initiate(localKeys: KeyPair, peerKey: PublicKey, localIndex: UInt32, nowMillis: UInt64,
                                cookie: [UInt8]? = nil,
                                ephemeralSource: @escaping () -> KeyPair = KeyPair.generate) throws -> ([UInt8], Pending) {
        var handshake = try NoiseHandshake(.init(protocolName: protocolName, role: .initiator, prologue: prologue,
                                                 localStatic: localKeys, remoteStatic: peerKey,
                                                 ephemeralSource: ephemeralSource))
        var timestamp: [UInt8] = []
        timestamp.appendInteger(nowMillis)
        let message = try handshake.writeMessage(payload: timestamp)
        let mac = HandshakeMAC(responder: peerKey)
        guard let cookie else {
            let packet = mac.sealed(try Datagram.handshakeInitiation(senderIndex: localIndex, noiseMessage: message).encode())
            return (packet, Pending(localIndex: localIndex, peerKey: peerKey, mac1: Array(packet.suffix(HandshakeMAC.length)),
                                    handshake: handshake))
        }
        let withMAC1 = mac.sealed(try Datagram.cookiedInitiation(senderIndex: localIndex, rest: message).encode())
        return (withMAC1 + HandshakeCookie.mac2(withMAC1, cookie: cookie),
                Pending(localIndex: localIndex, peerKey: peerKey, mac1: Array(withMAC1.suffix(HandshakeMAC.length)), handshake: handshake))
    }

    /// What a responder learns from message 1, before it decides to answer.
    public struct Initiation {
        /// The initiator's static key: the responder answers only a key it knows.
        public let peerKey: PublicKey
        /// The initiator's clock: the responder answers only one newer than the last it answered.
        public let timestamp: UInt64
        let senderIndex: UInt32
        var handshake: NoiseHandshake
    }

    /// Reads message 1 (`message`: the datagram's bytes after the sender index, its MAC last;
    /// the caller checked the MAC with `HandshakeMAC.verifies` before); throws if it does not
    /// authenticate.
    public static func read(initiation senderIndex: UInt32, message: [UInt8], localKeys: KeyPair,
                            ephemeralSource: @escaping () -> KeyPair = KeyPair.generate) throws -> Initiation {
        guard message.count > HandshakeMAC.length else { throw WireError.truncated("handshake initiation: no MAC") }
        var handshake = try NoiseHandshake(.init(protocolName: protocolName, role: .responder, prologue: prologue,
                                                 localStatic: localKeys, ephemeralSource: ephemeralSource))
        let payload = try handshake.readMessage(Array(message.dropLast(HandshakeMAC.length)))
        guard payload.count == 8, let peerKey = handshake.remoteStatic else {
            throw WireError.malformed("handshake initiation: payload of \(payload.count) bytes, must be an 8-byte timestamp")
        }
        let timestamp = payload.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return Initiation(peerKey: peerKey, timestamp: timestamp, senderIndex: senderIndex, handshake: handshake)
    }

    /// Message 2 as a whole datagram, and the session it opens.
    public static func respond(to initiation: Initiation, localIndex: UInt32) throws -> ([UInt8], DatagramSession) {
        var handshake = initiation.handshake
        let message = try handshake.writeMessage()
        guard let transport = handshake.transport else { throw WireError.malformed("handshake: not complete after message 2") }
        let packet = try Datagram.handshakeResponse(senderIndex: localIndex, receiverIndex: initiation.senderIndex,
                                                    noiseMessage: message).encode()
        return (packet, DatagramSession(transport: transport, localIndex: localIndex, remoteIndex: initiation.senderIndex))
    }

    /// Reads message 2 and opens the session; throws if it does not authenticate.
    public static func complete(_ pending: Pending, senderIndex: UInt32, message: [UInt8]) throws -> DatagramSession {
        var handshake = pending.handshake
        _ = try handshake.readMessage(message)
        guard let transport = handshake.transport else { throw WireError.malformed("handshake: not complete after message 2") }
        return DatagramSession(transport: transport, localIndex: pending.localIndex, remoteIndex: senderIndex)
    }
}
