import FuzzSupport
import KithWire

/// UDP packets: whatever decodes must re-encode to the same bytes — but for an endpoint probe,
/// whose zero padding is the sender's choice (spec §UDP packets): it re-encodes with this
/// version's padding, to bytes that decode to the same probe.
@_cdecl("FuzzDatagram_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzOne)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = fuzzInput(data, size)
    guard let datagram = try? Datagram.decode(bytes[...]) else { return 0 }
    let encoded = try? datagram.encode()
    if case .endpointProbe = datagram {
        precondition(encoded?.count == Datagram.probeLength && encoded.flatMap { try? Datagram.decode($0[...]) } == datagram,
                     "endpoint probe did not round-trip to its canonical form")
    } else {
        precondition(encoded == bytes, "datagram did not round-trip")
    }
    return 0
}
