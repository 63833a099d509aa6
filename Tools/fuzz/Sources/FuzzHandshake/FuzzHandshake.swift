import FuzzSupport
import KithCore
import KithCrypto

/// Noise handshake messages from an attacker: an IK responder reads message 1 (bare, and as the
/// UDP device handshake reads it, timestamp and all), an XX initiator reads message 2. Fixed
/// keys keep runs reproducible.
let responderStatic = KeyPair(privateKey: PrivateKey(rawValue: [UInt8](repeating: 1, count: 32))!)
let ephemeral = KeyPair(privateKey: PrivateKey(rawValue: [UInt8](repeating: 2, count: 32))!)

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
    return 0
}
