import FuzzSupport
import KithCore
import KithCrypto

/// Text from people and other devices: fingerprints, invites, addresses.
@_cdecl("FuzzText_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzOne)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: fuzzInput(data, size), as: UTF8.self)
    if let fingerprint = try? Fingerprint(parsing: text) {
        precondition((try? Fingerprint(parsing: fingerprint.description)) == fingerprint)
    }
    if let invite = try? Invite(parsing: text) {
        precondition((try? Invite(parsing: invite.description)) == invite, "invite did not round-trip")
    }
    _ = try? HostPort(parsing: text, allowPortZero: true)
    return 0
}
