import FuzzSupport
import KithCore

/// DNS-SD TXT records from anyone on the LAN: whatever parses must survive its own encoding.
@_cdecl("FuzzLANRecord_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzOne)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let record = LANRecord(txt: fuzzInput(data, size)) else { return 0 }
    precondition(LANRecord(txt: record.txt) == record, "TXT record did not round-trip")
    return 0
}
