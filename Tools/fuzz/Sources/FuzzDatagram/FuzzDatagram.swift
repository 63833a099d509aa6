import FuzzSupport
import KithWire

/// UDP packets: whatever decodes must re-encode to the same bytes.
@_cdecl("FuzzDatagram_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzOne)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = fuzzInput(data, size)
    guard let datagram = try? Datagram.decode(bytes[...]) else { return 0 }
    precondition((try? datagram.encode()) == bytes, "datagram did not round-trip")
    return 0
}
