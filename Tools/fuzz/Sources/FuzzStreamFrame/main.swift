import FuzzSupport
import KithCore

/// UDP stream frames from a sibling's datagrams: what decodes must encode back to the same bytes.
@_cdecl("FuzzStreamFrame_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzOne)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = fuzzInput(data, size)
    guard let frame = try? StreamFrame.decode(input[...]) else { return 0 }
    precondition(frame.encoded() == input, "stream frame did not round-trip")
    return 0
}
