import FuzzSupport
import KithWire

/// TCP framing and the preamble, fed as a stream split where the input's first byte says.
@_cdecl("FuzzFrame_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzOne)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = fuzzInput(data, size)
    _ = try? Preamble.decode(bytes[...])
    var decoder = FrameDecoder(maxBody: 1024)
    let step = max(1, Int(bytes.first ?? 1))
    var offset = 0
    while offset < bytes.count {
        decoder.append(bytes[offset..<min(offset + step, bytes.count)])
        offset += step
        do {
            while let frame = try decoder.nextFrame() {
                precondition(frame.count >= WireLimits.minFrameBody && frame.count <= 1024)
            }
        } catch {
            return 0
        }
        precondition(decoder.bufferedCount <= 1024 + 2 + step)
    }
    return 0
}
