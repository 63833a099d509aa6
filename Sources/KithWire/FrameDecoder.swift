/// Splits a TCP byte stream into Kith frames: a two-byte big-endian length, then that many
/// bytes of one Noise message (spec §TCP framing).
///
/// Feed it whatever the socket delivered; `nextFrame()` returns nil while a frame is
/// incomplete and throws as soon as a length is impossible, before buffering the body, so a
/// hostile peer cannot make it hold more than one maximum frame.
public struct FrameDecoder: Sendable {
    public let maxBody: Int
    private var buffer: [UInt8] = []
    private var readIndex = 0

    public init(maxBody: Int = WireLimits.maxNoiseMessage) {
        precondition(maxBody >= WireLimits.minFrameBody && maxBody <= WireLimits.maxNoiseMessage)
        self.maxBody = maxBody
    }

    /// Bytes received but not yet returned as frames.
    public var bufferedCount: Int { buffer.count - readIndex }

    public mutating func append(_ bytes: some Sequence<UInt8>) {
        buffer.append(contentsOf: bytes)
    }

    /// The hot path's append: concrete, so it is a memcpy and never a generic byte loop.
    public mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        buffer.append(contentsOf: bytes)
    }

    public mutating func nextFrame() throws(WireError) -> [UInt8]? {
        guard bufferedCount >= 2 else { return nil }
        let length = Int(buffer[readIndex]) << 8 | Int(buffer[readIndex + 1])
        guard length >= WireLimits.minFrameBody else {
            throw .truncated("frame: body of \(length) bytes is shorter than an AEAD tag")
        }
        guard length <= maxBody else { throw .oversized("frame: body of \(length) bytes, limit \(maxBody)") }
        guard bufferedCount >= 2 + length else { return nil }
        let frame = Array(buffer[(readIndex + 2)..<(readIndex + 2 + length)])
        readIndex += 2 + length
        // Drop what was read when nothing is left, or once it is over 64 KiB and more than half
        // the buffer: the tail moved is then smaller than what is dropped (each byte moves at
        // most once on average) and a connection never holds much more than two frames.
        if readIndex == buffer.count || (readIndex > 65536 && readIndex * 2 > buffer.count) {
            buffer.removeFirst(readIndex)
            readIndex = 0
        }
        return frame
    }

    /// The length prefix and body of one frame, ready to write to the socket.
    public static func encode(_ body: [UInt8]) throws(WireError) -> [UInt8] {
        guard body.count >= WireLimits.minFrameBody else { throw .truncated("frame: body of \(body.count) bytes") }
        guard body.count <= WireLimits.maxNoiseMessage else { throw .oversized("frame: body of \(body.count) bytes") }
        var out: [UInt8] = []
        out.reserveCapacity(body.count + 2)
        out.appendInteger(UInt16(body.count))
        out += body
        return out
    }
}
