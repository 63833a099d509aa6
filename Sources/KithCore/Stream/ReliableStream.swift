/// A reliable, ordered, message-oriented stream over a lossy datagram path (Protocol/udp-stream.md),
/// decided from events alone: the shell seals each frame in a transport-data packet of the
/// direct session (spec §UDP packets), hands every stream frame that arrives to `receive`, calls
/// `poll` after each event and when `nextDeadline` passes, and sends what it returns. Time is
/// milliseconds on the shell's monotonic clock, passed in with every event.
///
/// Each endpoint both sends and receives: the sending half (`StreamSender`) fragments messages
/// into segments and runs loss recovery and congestion control; the receiving half
/// (`StreamReceiver`) reassembles, orders and acknowledges.
public struct ReliableStream: Sendable {
    public struct Configuration: Equatable, Sendable {
        /// Bytes of message per segment; at most `StreamLimits.maxSegmentPayload`.
        public var maxPayload = 1300
        public var initialRTO: UInt64 = 1000
        public var minRTO: UInt64 = 200
        public var maxRTO: UInt64 = 60_000
        /// The congestion window never grows past this many bytes.
        public var maxWindow = 1 << 20
        /// Segments the receiver buffers beyond the first one it has not delivered; also what it
        /// advertises. At least `minimumReceiveWindow`.
        public var receiveWindow = 256
        /// What the sender assumes the peer allows before its first ack (udp-stream.md: every
        /// receiver buffers at least this many).
        public var initialPeerWindow = 64
        /// An ack waits at most this long, or until a second in-order segment arrives.
        public var maxAckDelay: UInt64 = 25
        public var ackEvery = 2
        /// Spread a window's segments over a round trip instead of sending them in a burst.
        public var pacing = true

        public init() {}

        /// The smallest legal receive window: a whole 64 KiB message must fit, whatever the payload size.
        public var minimumReceiveWindow: Int { StreamLimits.maxMessage / maxPayload + 2 }
        /// Segments a message of `maxMessage` bytes takes.
        public var maxMessageSegments: Int { (StreamLimits.maxMessage + maxPayload - 1) / maxPayload }
        /// A segment's bytes on the wire counted against the window (payload plus header).
        public var segmentSize: Int { maxPayload + StreamLimits.segmentHeader }
    }

    public let configuration: Configuration
    public private(set) var sender: StreamSender
    public private(set) var receiver: StreamReceiver

    public init(streamID: UInt32, configuration: Configuration = Configuration()) {
        precondition(configuration.maxPayload >= 1 && configuration.maxPayload <= StreamLimits.maxSegmentPayload,
                     "maxPayload must be 1…\(StreamLimits.maxSegmentPayload)")
        precondition(configuration.receiveWindow >= configuration.minimumReceiveWindow,
                     "receiveWindow must hold a whole 64 KiB message")
        precondition(configuration.minRTO >= 1 && configuration.minRTO <= configuration.maxRTO)
        self.configuration = configuration
        sender = StreamSender(streamID: streamID, configuration: configuration)
        receiver = StreamReceiver(streamID: streamID, configuration: configuration)
    }

    public var streamID: UInt32 { sender.streamID }

    // MARK: Sending

    /// Queues a message (at most 64 KiB) for sending.
    public mutating func send(_ message: [UInt8]) throws(StreamError) {
        try sender.send(message)
    }

    /// The segments that may go out now under the congestion window, the peer's window and pacing.
    public mutating func pollSegments(now: UInt64) -> [Segment] {
        sender.pollSegments(now: now)
    }

    public mutating func receiveAck(_ ack: AckFrame, now: UInt64) {
        sender.receiveAck(ack, now: now)
    }

    /// Timers: retransmission timeout and time-based loss detection.
    public mutating func tick(now: UInt64) {
        sender.tick(now: now)
    }

    // MARK: Receiving

    /// A segment arrived; returns the messages it completed, in order. Throws when the peer broke
    /// the framing rules (the shell closes the stream).
    public mutating func receiveSegment(_ segment: Segment, now: UInt64) throws(StreamError) -> [[UInt8]] {
        try receiver.receive(segment, now: now)
    }

    /// The ack to send now, if one is due.
    public mutating func pendingAck(now: UInt64) -> AckFrame? {
        receiver.pendingAck(now: now)
    }

    // MARK: Both halves

    /// Any frame for this stream: segments go to the receiver, acks to the sender.
    public mutating func receive(_ frame: StreamFrame, now: UInt64) throws(StreamError) -> [[UInt8]] {
        switch frame {
        case .segment(let segment): return try receiver.receive(segment, now: now)
        case .ack(let ack):
            sender.receiveAck(ack, now: now)
            return []
        case .close:
            return []  // the shell ends the stream (spec §UDP stream, "Close")
        }
    }

    /// Asks for an ack at the next `poll` even with nothing new: a keepalive that shows the peer
    /// this side still knows the stream (spec §UDP stream, "Liveness").
    public mutating func requestAck(now: UInt64) {
        receiver.requestAck(now: now, immediately: true)
    }

    /// Everything to send now: the due ack first, then segments.
    public mutating func poll(now: UInt64) -> [StreamFrame] {
        sender.tick(now: now)
        var frames: [StreamFrame] = []
        if let ack = receiver.pendingAck(now: now) { frames.append(.ack(ack)) }
        frames += sender.pollSegments(now: now).map(StreamFrame.segment)
        return frames
    }

    /// When to call `poll` next at the latest, or nil when only a new event can make work.
    public func nextDeadline(now: UInt64) -> UInt64? {
        [sender.nextDeadline(now: now), receiver.ackDeadline].compactMap { $0 }.min()
    }
}

/// Why a stream refused a message or closed: one struct with a closed set of kinds, like `WireError`.
public struct StreamError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable, Equatable {
        /// A message over 64 KiB (sending) or fragments adding up to more (receiving).
        case messageTooLarge
        /// Fragments out of order: a message not starting with a first fragment, or a first
        /// fragment inside a message.
        case badFragment
    }

    public let kind: Kind
    public let detail: String

    public init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    public static func messageTooLarge(_ detail: String) -> StreamError { .init(.messageTooLarge, detail) }
    public static func badFragment(_ detail: String) -> StreamError { .init(.badFragment, detail) }

    public var description: String { "\(kind.rawValue): \(detail)" }
}
