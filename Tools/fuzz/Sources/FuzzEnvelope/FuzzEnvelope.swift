import FuzzSupport
import KithWire

/// Envelopes and every generated message: whatever decodes must re-encode and decode again to
/// the same value (unknown fields may be dropped, so bytes need not match).
@_cdecl("FuzzEnvelope_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzOne)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = fuzzInput(data, size)
    guard let envelope = try? Envelope.decode(bytes[...]) else { return 0 }
    guard let again = try? envelope.encode() else { preconditionFailure("a decoded envelope failed to encode") }
    precondition((try? Envelope.decode(again[...])) == envelope, "envelope did not round-trip")
    return 0
}
