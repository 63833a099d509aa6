import KithWire

/// The three frames of a UDP stream (spec §UDP stream), each the whole plaintext of one
/// transport-data packet (spec §UDP packets). Big-endian like the rest of Kith. The frame type
/// byte is never 0, so it cannot be mistaken for an envelope (whose first byte is its version, 0).
public enum StreamFrameType {
    /// Allocated in spec §UDP stream, "Frame types".
    public static let segment: UInt8 = 0x40
    public static let ack: UInt8 = 0x41
    public static let close: UInt8 = 0x42

    /// True when a transport plaintext is a stream frame rather than an envelope (spec §UDP stream).
    public static func isStreamFrame(_ plaintext: ArraySlice<UInt8>) -> Bool {
        guard let first = plaintext.first else { return false }
        return first >= segment && first <= close
    }
}

public enum StreamLimits {
    /// The largest plaintext of a transport-data packet (spec §UDP packets: 1368 bytes).
    public static let maxFrame = 1368
    /// type, flags, stream id, sequence.
    public static let segmentHeader = 14
    /// The protocol ceiling on a segment's payload; a stream's configured `maxPayload` is at most this.
    public static let maxSegmentPayload = maxFrame - segmentHeader
    /// type, reserved, stream id, cumulative, window, ack delay, range count.
    public static let ackHeader = 21
    /// SACK ranges in one ack (udp-stream.md, "Ack").
    public static let maxSackRanges = 4
    public static let ackMaxSize = ackHeader + maxSackRanges * 8
    /// The largest message a stream carries (64 KiB).
    public static let maxMessage = 65536
    /// type, code, stream id: a close frame is exactly this long.
    public static let closeSize = 6
}

/// One fragment of a message. Retransmissions repeat the sequence number (so RTT samples follow
/// Karn's rule).
public struct Segment: Equatable, Sendable {
    public var streamID: UInt32
    public var sequence: UInt64
    /// The first fragment of a message.
    public var first: Bool
    /// The last fragment of a message (a one-segment message has both).
    public var last: Bool
    public var payload: [UInt8]

    public init(streamID: UInt32, sequence: UInt64, first: Bool, last: Bool, payload: [UInt8]) {
        self.streamID = streamID
        self.sequence = sequence
        self.first = first
        self.last = last
        self.payload = payload
    }

    static let firstFlag: UInt8 = 0x01
    static let lastFlag: UInt8 = 0x02

    public func encoded() -> [UInt8] {
        precondition(payload.count <= StreamLimits.maxSegmentPayload, "segment payload over the protocol limit")
        var out: [UInt8] = []
        out.reserveCapacity(StreamLimits.segmentHeader + payload.count)
        out.append(StreamFrameType.segment)
        out.append((first ? Segment.firstFlag : 0) | (last ? Segment.lastFlag : 0))
        out.appendInteger(streamID)
        out.appendInteger(sequence)
        out.append(contentsOf: payload)
        return out
    }

    public static func decode(_ bytes: ArraySlice<UInt8>) throws(WireError) -> Segment {
        guard bytes.count <= StreamLimits.maxFrame else {
            throw .oversized("stream segment: \(bytes.count) bytes, limit \(StreamLimits.maxFrame)")
        }
        var reader = ByteReader(bytes, what: "stream segment")
        let type: UInt8 = try reader.readInteger()
        guard type == StreamFrameType.segment else { throw .unknownType("stream segment: type \(type)") }
        let flags: UInt8 = try reader.readInteger()
        guard flags & ~(firstFlag | lastFlag) == 0 else { throw .malformed("stream segment: reserved flag bits \(flags)") }
        let streamID: UInt32 = try reader.readInteger()
        let sequence: UInt64 = try reader.readInteger()
        return Segment(streamID: streamID, sequence: sequence, first: flags & firstFlag != 0,
                       last: flags & lastFlag != 0, payload: Array(reader.readRest()))
    }
}

/// Sequence numbers `[start, end)` the receiver holds above its cumulative point.
public struct SackRange: Equatable, Sendable {
    public var start: UInt64
    public var end: UInt64

    public init(_ start: UInt64, _ end: UInt64) {
        precondition(start < end, "empty SACK range")
        self.start = start
        self.end = end
    }
}

/// What a receiver holds: everything below `cumulative`, the SACK ranges above it, and how far
/// the sender may go (flow control).
public struct AckFrame: Equatable, Sendable {
    public var streamID: UInt32
    /// The next sequence number the receiver expects: it holds every segment below it.
    public var cumulative: UInt64
    /// The sender may send sequence numbers below `cumulative + window`.
    public var window: UInt32
    /// Milliseconds between the arrival of the newest segment and this ack, for the RTT sample.
    public var ackDelay: UInt16
    /// Ascending, disjoint, not adjacent, all above `cumulative`; at most four.
    public var ranges: [SackRange]

    public init(streamID: UInt32, cumulative: UInt64, window: UInt32, ackDelay: UInt16 = 0, ranges: [SackRange] = []) {
        self.streamID = streamID
        self.cumulative = cumulative
        self.window = window
        self.ackDelay = ackDelay
        self.ranges = ranges
    }

    /// Ranges travel as (offset of start above `cumulative`, length), u32 each.
    public func encoded() -> [UInt8] {
        precondition(ranges.count <= StreamLimits.maxSackRanges, "too many SACK ranges")
        var out: [UInt8] = []
        out.reserveCapacity(StreamLimits.ackHeader + 8 * ranges.count)
        out.append(StreamFrameType.ack)
        out.append(0)
        out.appendInteger(streamID)
        out.appendInteger(cumulative)
        out.appendInteger(window)
        out.appendInteger(ackDelay)
        out.append(UInt8(ranges.count))
        for range in ranges {
            // What the format carries: an offset and a length of u32 each (a decoded frame always fits).
            precondition(range.start > cumulative && range.start - cumulative <= UInt64(UInt32.max)
                         && range.end - range.start <= UInt64(UInt32.max), "SACK range out of reach")
            out.appendInteger(UInt32(range.start - cumulative))
            out.appendInteger(UInt32(range.end - range.start))
        }
        return out
    }

    public static func decode(_ bytes: ArraySlice<UInt8>) throws(WireError) -> AckFrame {
        guard bytes.count <= StreamLimits.ackMaxSize else {
            throw .oversized("stream ack: \(bytes.count) bytes, limit \(StreamLimits.ackMaxSize)")
        }
        var reader = ByteReader(bytes, what: "stream ack")
        let type: UInt8 = try reader.readInteger()
        guard type == StreamFrameType.ack else { throw .unknownType("stream ack: type \(type)") }
        let reserved: UInt8 = try reader.readInteger()
        guard reserved == 0 else { throw .malformed("stream ack: reserved byte \(reserved)") }
        let streamID: UInt32 = try reader.readInteger()
        let cumulative: UInt64 = try reader.readInteger()
        let window: UInt32 = try reader.readInteger()
        let ackDelay: UInt16 = try reader.readInteger()
        let count: UInt8 = try reader.readInteger()
        guard count <= StreamLimits.maxSackRanges else {
            throw .oversized("stream ack: \(count) SACK ranges, limit \(StreamLimits.maxSackRanges)")
        }
        var ranges: [SackRange] = []
        var floor: UInt64 = 0  // offsets above `cumulative`; the next range must start beyond `floor`
        for index in 0..<Int(count) {
            let offset: UInt32 = try reader.readInteger()
            let length: UInt32 = try reader.readInteger()
            guard length > 0 else { throw .malformed("stream ack: SACK range \(index) is empty") }
            // Offset 0 would claim the cumulative point itself; each range must leave a gap after the one before.
            guard UInt64(offset) > floor else {
                throw .malformed("stream ack: SACK range \(index) not above the one before it")
            }
            let end = UInt64(offset) + UInt64(length)
            let (start, overflowStart) = cumulative.addingReportingOverflow(UInt64(offset))
            let (stop, overflowEnd) = cumulative.addingReportingOverflow(end)
            guard !overflowStart, !overflowEnd else { throw .malformed("stream ack: SACK range \(index) past 2^64") }
            ranges.append(SackRange(start, stop))
            floor = end
        }
        guard reader.isAtEnd else { throw .malformed("stream ack: \(reader.remaining) bytes after the last range") }
        return AckFrame(streamID: streamID, cumulative: cumulative, window: window, ackDelay: ackDelay, ranges: ranges)
    }
}

/// The end of a stream, or the refusal of one (spec §UDP stream, "Close"): never answered, so
/// two sides cannot bounce closes between them.
public struct CloseFrame: Equatable, Sendable {
    public enum Code: UInt8, Sendable {
        /// The application is done with the stream.
        case done = 0
        /// The stream id is not open here (this side restarted, or closed it already).
        case unknownStream = 1
        /// This side has as many streams with the sender as it allows.
        case tooManyStreams = 2
        /// The peer broke the stream's rules (fragments, message size), or a stream timed out.
        case error = 3
    }

    public var streamID: UInt32
    public var code: Code

    public init(streamID: UInt32, code: Code) {
        self.streamID = streamID
        self.code = code
    }

    public func encoded() -> [UInt8] {
        var out: [UInt8] = [StreamFrameType.close, code.rawValue]
        out.appendInteger(streamID)
        return out
    }

    public static func decode(_ bytes: ArraySlice<UInt8>) throws(WireError) -> CloseFrame {
        guard bytes.count <= StreamLimits.closeSize else {
            throw .oversized("stream close: \(bytes.count) bytes, limit \(StreamLimits.closeSize)")
        }
        var reader = ByteReader(bytes, what: "stream close")
        let type: UInt8 = try reader.readInteger()
        guard type == StreamFrameType.close else { throw .unknownType("stream close: type \(type)") }
        let raw: UInt8 = try reader.readInteger()
        guard let code = Code(rawValue: raw) else { throw .malformed("stream close: unknown code \(raw)") }
        let streamID: UInt32 = try reader.readInteger()
        return CloseFrame(streamID: streamID, code: code)
    }
}

/// A stream frame of any kind, from the plaintext of a transport-data packet.
public enum StreamFrame: Equatable, Sendable {
    case segment(Segment)
    case ack(AckFrame)
    case close(CloseFrame)

    public static func decode(_ bytes: ArraySlice<UInt8>) throws(WireError) -> StreamFrame {
        guard let type = bytes.first else { throw .truncated("stream frame: empty") }
        switch type {
        case StreamFrameType.segment: return .segment(try Segment.decode(bytes))
        case StreamFrameType.ack: return .ack(try AckFrame.decode(bytes))
        case StreamFrameType.close: return .close(try CloseFrame.decode(bytes))
        default: throw .unknownType("stream frame: type \(type)")
        }
    }

    public var streamID: UInt32 {
        switch self {
        case .segment(let segment): segment.streamID
        case .ack(let ack): ack.streamID
        case .close(let close): close.streamID
        }
    }

    public func encoded() -> [UInt8] {
        switch self {
        case .segment(let segment): segment.encoded()
        case .ack(let ack): ack.encoded()
        case .close(let close): close.encoded()
        }
    }
}
