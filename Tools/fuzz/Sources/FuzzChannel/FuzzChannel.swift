import FuzzSupport
import KithCore
import KithCrypto

/// A whole TCP channel from the responder's side: preamble, handshake frames and transport
/// frames from an attacker, delivered in chunks. The machine must only ever write, deliver or
/// close — and after a close, do nothing.
let serverKey = KeyPair(privateKey: PrivateKey(rawValue: [UInt8](repeating: 3, count: 32))!)
let ephemeral = KeyPair(privateKey: PrivateKey(rawValue: [UInt8](repeating: 4, count: 32))!)

@_cdecl("FuzzChannel_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzOne)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = fuzzInput(data, size)
    var channel = SecureChannel(role: .responder(accepting: [.agentToServer, .deviceToDevice, .pairing]), localStatic: serverKey,
                                ciphers: [.aesGCM, .chaChaPoly], ephemeralSource: { ephemeral })
    _ = channel.start()
    var offset = 0
    var closed = false
    while offset < bytes.count {
        let step = Int(bytes[offset] % 64) + 1
        let actions = channel.receive(Array(bytes[offset..<min(offset + step, bytes.count)]))
        precondition(!closed || actions.isEmpty, "a closed channel acted")
        if actions.contains(where: { if case .close = $0 { true } else { false } }) { closed = true }
        offset += step
    }
    return 0
}
