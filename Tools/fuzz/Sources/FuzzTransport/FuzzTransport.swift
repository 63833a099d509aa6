import FuzzSupport
import KithCore
@testable import KithCrypto
import KithWire

/// UDP transport data against a live session: decode, then authenticate and check replay.
/// Sessions persist across inputs so the replay window sees long histories.
let cipher = CipherState(cipher: .chaChaPoly, key: SecretBytes([UInt8](repeating: 5, count: 32)))
nonisolated(unsafe) var session = DatagramSession(
    transport: NoiseTransport(send: cipher, receive: cipher, handshakeHash: [], remoteStatic: nil),
    localIndex: 7, remoteIndex: 7)

@_cdecl("FuzzTransport_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzOne)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = fuzzInput(data, size)
    // Half the time, seal the input as a real packet first, so the opener's success path runs too.
    let packet: [UInt8]
    if bytes.first.map({ $0 & 1 == 1 }) == true, let sealed = try? session.seal(Array(bytes.dropFirst().prefix(1300))) {
        packet = sealed
    } else {
        packet = bytes
    }
    guard case let .transportData(receiver, counter, ciphertext) = try? Datagram.decode(packet[...]) else { return 0 }
    _ = try? session.open(receiverIndex: receiver, counter: counter, ciphertext: ciphertext)
    return 0
}
