import FuzzSupport
import KithCore
import KithCrypto
import KithWire

/// Noise handshake messages from an attacker: an IK responder reads message 1 (bare, and as the
/// UDP device handshake reads it, timestamp and all), an XX initiator reads message 2, the bytes
/// are read as a device channel's cipher offer and answer, the handshake gate weighs them as a
/// datagram (under load, so the cookie paths run too), and an initiator opens them as a cookie
/// reply. Fixed keys keep runs reproducible.
let responderStatic = KeyPair(privateKey: PrivateKey(rawValue: [UInt8](repeating: 1, count: 32))!)
let ephemeral = KeyPair(privateKey: PrivateKey(rawValue: [UInt8](repeating: 2, count: 32))!)
nonisolated(unsafe) var gate = HandshakeGate(responder: responderStatic.publicKey, loadThreshold: 1) {
    [UInt8](repeating: 3, count: $0)
}
let source = EndpointAddress(ip: [127, 0, 0, 2], port: 51820)

@_cdecl("FuzzHandshake_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzOne)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = fuzzInput(data, size)
    var responder = try! NoiseHandshake(.init(
        protocolName: try! NoiseProtocolName("Noise_IK_25519_ChaChaPoly_BLAKE2b"), role: .responder,
        localStatic: responderStatic, ephemeralSource: { ephemeral }))
    _ = try? responder.readMessage(bytes)
    if let initiation = try? DeviceHandshake.read(initiation: 1, message: bytes, localKeys: responderStatic,
                                                  ephemeralSource: { ephemeral }) {
        _ = try? DeviceHandshake.respond(to: initiation, localIndex: 2)
    }

    var initiator = try! NoiseHandshake(.init(
        protocolName: try! NoiseProtocolName("Noise_XX_25519_ChaChaPoly_BLAKE2b"), role: .initiator,
        localStatic: responderStatic, ephemeralSource: { ephemeral }))
    _ = try! initiator.writeMessage()
    _ = try? initiator.readMessage(bytes)

    // A device channel's cipher offer and answer, the payloads of its messages 1 and 2.
    _ = try? TransportCipherChoice.choose(offer: bytes, ours: [.aesGCM, .chaChaPoly])
    _ = try? TransportCipherChoice.accept(answer: bytes, offer: [2, 1])

    _ = gate.weigh(bytes[...], from: source, nowMillis: 1)
    if case let .cookieReply(_, nonce, sealed)? = try? Datagram.decode(bytes[...]) {
        var jar = CookieJar()
        _ = jar.take(nonce: nonce, sealedCookie: sealed, responder: responderStatic.publicKey, mac1: Array(bytes.prefix(16)),
                     address: "127.0.0.2:51820", nowMillis: 1)
    }
    return 0
}
