/// The receiving half of a `ReliableStream`: a bounded reassembly buffer, in-order delivery of
/// whole messages, and acks (cumulative point, up to four SACK ranges, the window).
///
/// Acks are delayed at most `maxAckDelay`, or sent at every `ackEvery`-th in-order segment, and
/// sent at once for a segment out of order, a duplicate, one beyond the window, or one that
/// fills a gap (RFC 5681 §4.2).
public struct StreamReceiver: Sendable {
    public struct Statistics: Equatable, Sendable {
        public var segmentsReceived = 0
        public var duplicates = 0
        /// Segments at or past the window's right edge, dropped.
        public var beyondWindow = 0
        public var messagesDelivered = 0
        public var acksSent = 0
    }

    public let streamID: UInt32
    let configuration: ReliableStream.Configuration
    public private(set) var statistics = Statistics()
    /// The next sequence number expected: every segment below it has arrived.
    public private(set) var cumulative: UInt64 = 0
    /// The first segment of the message being reassembled; segments below it were delivered.
    public private(set) var deliveredUpTo: UInt64 = 0
    /// When an ack is due at the latest, if one is pending.
    public private(set) var ackDeadline: UInt64?

    /// Segments held: the fragments of the message at `deliveredUpTo`, and those above `cumulative`.
    private var buffer: [UInt64: Segment] = [:]
    private var ackPending = false
    private var ackNow = false
    private var inOrderSinceAck = 0
    private var latestArrival: (sequence: UInt64, at: UInt64)?

    init(streamID: UInt32, configuration: ReliableStream.Configuration) {
        self.streamID = streamID
        self.configuration = configuration
    }

    /// Segments in the reassembly buffer; never more than `configuration.receiveWindow`.
    public var bufferedSegments: Int { buffer.count }

    /// Segments the sender may send above the cumulative point.
    public var window: UInt32 {
        UInt32(clamping: deliveredUpTo + UInt64(configuration.receiveWindow) - cumulative)
    }

    mutating func receive(_ segment: Segment, now: UInt64) throws(StreamError) -> [[UInt8]] {
        guard segment.streamID == streamID else { return [] }
        statistics.segmentsReceived += 1
        let sequence = segment.sequence
        if sequence < cumulative || buffer[sequence] != nil {
            statistics.duplicates += 1
            requestAck(now: now, immediately: true)
            return []
        }
        guard sequence - deliveredUpTo < UInt64(configuration.receiveWindow) else {
            statistics.beyondWindow += 1
            requestAck(now: now, immediately: true)
            return []
        }
        buffer[sequence] = segment
        latestArrival = (sequence, now)
        if sequence == cumulative {
            let before = cumulative
            while buffer[cumulative] != nil { cumulative += 1 }
            inOrderSinceAck += 1
            let filledGap = cumulative - before > 1
            requestAck(now: now, immediately: filledGap || inOrderSinceAck >= configuration.ackEvery)
        } else {
            requestAck(now: now, immediately: true)
        }
        return try deliver()
    }

    mutating func requestAck(now: UInt64, immediately: Bool) {
        ackPending = true
        if immediately { ackNow = true }
        if ackDeadline == nil { ackDeadline = now + configuration.maxAckDelay }
        if ackNow { ackDeadline = now }
    }

    /// Hands over every message whose fragments are all below the cumulative point.
    private mutating func deliver() throws(StreamError) -> [[UInt8]] {
        var messages: [[UInt8]] = []
        var sequence = deliveredUpTo
        var size = 0
        while sequence < cumulative {
            let segment = buffer[sequence]!
            guard segment.first == (sequence == deliveredUpTo) else {
                throw .badFragment(segment.first
                    ? "segment \(sequence) starts a message inside the one from \(deliveredUpTo)"
                    : "segment \(sequence) continues a message that never started")
            }
            size += segment.payload.count
            guard size <= StreamLimits.maxMessage else {
                throw .messageTooLarge("message from segment \(deliveredUpTo) passes \(StreamLimits.maxMessage) bytes")
            }
            if segment.last {
                var message: [UInt8] = []
                message.reserveCapacity(size)
                for part in deliveredUpTo...sequence {
                    message += buffer.removeValue(forKey: part)!.payload
                }
                messages.append(message)
                statistics.messagesDelivered += 1
                deliveredUpTo = sequence + 1
                size = 0
            }
            sequence += 1
        }
        return messages
    }

    mutating func pendingAck(now: UInt64) -> AckFrame? {
        guard ackPending, ackNow || now >= (ackDeadline ?? 0) else { return nil }
        ackPending = false
        ackNow = false
        ackDeadline = nil
        inOrderSinceAck = 0
        statistics.acksSent += 1
        let delay = latestArrival.map { now - $0.at } ?? 0
        return AckFrame(streamID: streamID, cumulative: cumulative, window: window,
                        ackDelay: UInt16(clamping: delay), ranges: sackRanges())
    }

    /// Up to four runs of held segments above the cumulative point: the one holding the latest
    /// arrival (it tells the sender what was delivered most recently) and the lowest others.
    private func sackRanges() -> [SackRange] {
        let above = buffer.keys.filter { $0 > cumulative }.sorted()
        guard !above.isEmpty else { return [] }
        var runs: [SackRange] = []
        var start = above[0], end = above[0] + 1
        for sequence in above.dropFirst() {
            if sequence == end {
                end += 1
            } else {
                runs.append(SackRange(start, end))
                start = sequence
                end = sequence + 1
            }
        }
        runs.append(SackRange(start, end))
        guard runs.count > StreamLimits.maxSackRanges else { return runs }
        var chosen = Array(runs.prefix(StreamLimits.maxSackRanges - 1))
        if let latest = latestArrival?.sequence, let run = runs.first(where: { $0.start <= latest && latest < $0.end }),
           !chosen.contains(run) {
            chosen.append(run)
        } else {
            chosen.append(runs[StreamLimits.maxSackRanges - 1])
        }
        return chosen.sorted { $0.start < $1.start }
    }
}
