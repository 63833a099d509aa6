import KithCrypto
import KithWire

/// A device-to-device envelope sealed for relaying through the server: one
/// `Noise_K_25519_ChaChaPoly_BLAKE2b` message (spec §Relayed device messages).
///
/// One-way, so it can be sealed for a device that is offline; the prologue binds both device
/// ids, so the server can neither redirect a payload to another device nor pass it off as
/// coming from another sender.
public enum RelayedMessage {
    static let protocolName = try! NoiseProtocolName("Noise_K_25519_ChaChaPoly_BLAKE2b")

    static func prologue(from sender: String, to receiver: String) -> [UInt8] {
        var out = Array("KITH-relay".utf8)
        out.appendInteger(WireLimits.protocolVersion)
        for id in [sender, receiver] {
            let bytes = Array(id.utf8.prefix(255))
            out.append(UInt8(bytes.count))
            out += bytes
        }
        return out
    }

    public static func seal(_ envelope: Envelope, from sender: String, to receiver: String, senderKeys: KeyPair,
                            receiverKey: PublicKey,
                            ephemeralSource: @escaping () -> KeyPair = KeyPair.generate) throws(WireError) -> [UInt8] {
        let plaintext = try envelope.encode()
        do {
            var handshake = try NoiseHandshake(.init(
                protocolName: protocolName, role: .initiator, prologue: prologue(from: sender, to: receiver),
                localStatic: senderKeys, remoteStatic: receiverKey, ephemeralSource: ephemeralSource))
            return try handshake.writeMessage(payload: plaintext)
        } catch {
            throw SecureChannel.wireError(error)
        }
    }

    /// The envelope inside `payload`, or `.authenticationFailed` if it was not sealed by
    /// `senderKey` for `receiverKeys` with these two ids.
    public static func open(_ payload: [UInt8], from sender: String, to receiver: String, receiverKeys: KeyPair,
                            senderKey: PublicKey) throws(WireError) -> Envelope {
        let plaintext: [UInt8]
        do {
            var handshake = try NoiseHandshake(.init(
                protocolName: protocolName, role: .responder, prologue: prologue(from: sender, to: receiver),
                localStatic: receiverKeys, remoteStatic: senderKey))
            plaintext = try handshake.readMessage(payload)
        } catch {
            throw SecureChannel.wireError(error)
        }
        return try Envelope.decode(plaintext[...])
    }
}
