/// The sending half of a `ReliableStream`: fragmentation, the send queue, the scoreboard of
/// segments in flight, loss detection, retransmission, RTT, congestion and flow control.
///
/// Loss detection is RACK-style (RFC 8985) on top of SACK: a segment is lost once a segment sent
/// after it has been delivered and a reordering window (a quarter of the minimum RTT) has passed
/// since the expected time of its ack; a retransmission that is lost again is found the same way.
/// The retransmission timer (RFC 6298) catches the rest: all in flight is lost, the window
/// collapses to one segment and the timer doubles.
public struct StreamSender: Sendable {
    enum State: Equatable, Sendable {
        case inFlight
        /// The receiver holds it above its cumulative point.
        case sacked
        /// Declared lost, waiting to be sent again; not counted in flight.
        case lost
    }

    struct Record: Sendable {
        var segment: Segment
        var sentAt: UInt64
        /// Position in the order of transmissions, retransmissions included.
        var order: UInt64
        /// `order` of the first transmission: it grows with the sequence, so a walk in sequence
        /// order can stop at the first record sent first after a given transmission.
        let firstOrder: UInt64
        var retransmitted: Bool
        var state: State
        var size: Int { segment.payload.count + StreamLimits.segmentHeader }
    }

    public struct Statistics: Equatable, Sendable {
        public var segmentsSent = 0
        public var retransmissions = 0
        public var timeouts = 0
        /// Recovery episodes: each one cut the window once.
        public var recoveries = 0
        /// Acks ignored because they acknowledged data never sent.
        public var bogusAcks = 0
    }

    public let streamID: UInt32
    let configuration: ReliableStream.Configuration
    public private(set) var rtt: RTTEstimator
    public private(set) var congestion: NewReno
    public private(set) var statistics = Statistics()
    /// Bytes sent and neither acknowledged nor declared lost.
    public private(set) var bytesInFlight = 0
    /// Segments may be sent below this sequence number (the peer's cumulative point plus window).
    public private(set) var peerLimit: UInt64
    /// The retransmission timer, when running.
    public private(set) var rtoDeadline: UInt64?

    /// Fragments not yet sent once; `unsent[unsentHead...]` is the queue.
    private var unsent: [Segment] = []
    private var unsentHead = 0
    private var nextSequence: UInt64 = 0
    /// The cumulative point of the ack `peerLimit` came from.
    private var peerLimitCumulative: UInt64 = 0
    /// Records for sequence numbers `base ..< base + flight.count`: sent at least once, not yet
    /// below the peer's cumulative point. A slice, so that an ack drops the front in place instead
    /// of moving the whole window (its indices are absolute: `flight.startIndex` is `base`'s).
    private var flight: ArraySlice<Record> = []
    private var base: UInt64 = 0
    private var lostCount = 0
    private var transmissions: UInt64 = 0
    private var consecutiveTimeouts = 0
    /// RACK: the newest transmission known delivered.
    private var rackOrder: UInt64?
    private var rackDeadline: UInt64?
    private var pacingTokens: Double = 0
    private var pacingRefilledAt: UInt64?

    init(streamID: UInt32, configuration: ReliableStream.Configuration) {
        self.streamID = streamID
        self.configuration = configuration
        rtt = RTTEstimator(initial: configuration.initialRTO, minTimeout: configuration.minRTO, maxTimeout: configuration.maxRTO)
        congestion = NewReno(segmentSize: configuration.segmentSize, maxWindow: configuration.maxWindow)
        peerLimit = UInt64(configuration.initialPeerWindow)
    }

    /// Segments queued and not yet sent once: the application tops the queue up when it runs low.
    public var queuedSegments: Int { unsent.count - unsentHead }
    /// Segments sent and not cumulatively acknowledged.
    public var outstandingSegments: Int { flight.count }
    /// Nothing queued, nothing unacknowledged.
    public var isIdle: Bool { queuedSegments == 0 && flight.isEmpty }
    public var congestionWindow: Int { Int(congestion.window) }

    mutating func send(_ message: [UInt8]) throws(StreamError) {
        guard message.count <= StreamLimits.maxMessage else {
            throw .messageTooLarge("\(message.count) bytes, limit \(StreamLimits.maxMessage)")
        }
        if unsentHead > 1024 && unsentHead * 2 > unsent.count {
            unsent.removeFirst(unsentHead)
            unsentHead = 0
        }
        let size = configuration.maxPayload
        var offset = 0
        repeat {
            let end = min(offset + size, message.count)
            unsent.append(Segment(streamID: streamID, sequence: nextSequence, first: offset == 0,
                                  last: end == message.count, payload: Array(message[offset..<end])))
            nextSequence += 1
            offset = end
        } while offset < message.count
    }

    // MARK: Sending

    mutating func pollSegments(now: UInt64) -> [Segment] {
        refillPacing(now: now)
        var out: [Segment] = []
        let maxFlight = max(configuration.maxWindow / configuration.segmentSize * 2, configuration.receiveWindow)
        while true {
            // Retransmissions first, oldest first; then new data within the peer's window.
            let index: Int?
            if lostCount > 0 {
                index = flight.firstIndex { $0.state == .lost }
            } else {
                index = nil
            }
            let size: Int
            if let index {
                size = flight[index].size
            } else if unsentHead < unsent.count, unsent[unsentHead].sequence < peerLimit, flight.count < maxFlight {
                size = unsent[unsentHead].payload.count + StreamLimits.segmentHeader
            } else {
                break
            }
            guard bytesInFlight == 0 || Double(bytesInFlight + size) <= congestion.window else { break }
            guard pacingAllows() else { break }

            transmissions += 1
            if let index {
                flight[index].sentAt = now
                flight[index].order = transmissions
                flight[index].retransmitted = true
                flight[index].state = .inFlight
                lostCount -= 1
                statistics.retransmissions += 1
                out.append(flight[index].segment)
            } else {
                let segment = unsent[unsentHead]
                unsentHead += 1
                flight.append(Record(segment: segment, sentAt: now, order: transmissions, firstOrder: transmissions,
                                     retransmitted: false, state: .inFlight))
                out.append(segment)
            }
            bytesInFlight += size
            pacingTokens -= Double(size)
            statistics.segmentsSent += 1
            if rtoDeadline == nil { rtoDeadline = now + rtt.timeout }
        }
        return out
    }

    /// Bytes per millisecond: the window over the smoothed RTT, with headroom to grow (RFC 9002 §7.7).
    private var pacingRate: Double? {
        guard configuration.pacing, let srtt = rtt.smoothed else { return nil }
        let gain = congestion.inSlowStart ? 2.0 : 1.25
        return gain * congestion.window / max(srtt, 1)
    }

    private mutating func refillPacing(now: UInt64) {
        defer { pacingRefilledAt = now }
        guard let rate = pacingRate, let last = pacingRefilledAt else {
            pacingTokens = Double(4 * configuration.segmentSize)
            return
        }
        let burst = max(Double(4 * configuration.segmentSize), rate * 2)
        pacingTokens = min(pacingTokens + rate * Double(now &- last), burst)
    }

    private func pacingAllows() -> Bool {
        pacingRate == nil || pacingTokens > 0
    }

    // MARK: Acknowledgements

    mutating func receiveAck(_ ack: AckFrame, now: UInt64) {
        guard ack.streamID == streamID else { return }
        let sentEnd = base + UInt64(flight.count)
        guard ack.cumulative <= sentEnd, ack.ranges.allSatisfy({ $0.end <= sentEnd }) else {
            statistics.bogusAcks += 1
            return
        }
        // The newest ack sets the window (an ack overtaken by a later one does not).
        if ack.cumulative >= peerLimitCumulative {
            let (limit, overflow) = ack.cumulative.addingReportingOverflow(UInt64(ack.window))
            peerLimit = overflow ? .max : limit
            peerLimitCumulative = ack.cumulative
        }

        var deliveredBytes = 0
        var newest: Record?  // the latest transmission among those newly delivered
        var sample: Record?  // the highest sequence newly delivered that was sent once (Karn)
        func delivered(_ record: Record) {
            deliveredBytes += record.size
            if newest == nil || record.order > newest!.order { newest = record }
            if !record.retransmitted, sample == nil || record.segment.sequence > sample!.segment.sequence { sample = record }
        }

        // The window grows only while it limits sending (RFC 7661): not when the peer's window
        // or the application held the sender back.
        let windowLimited = 2 * Double(bytesInFlight) >= congestion.window
        let advanced = ack.cumulative > base
        if advanced {
            let count = Int(ack.cumulative - base)
            for record in flight.prefix(count) {
                switch record.state {
                case .inFlight:
                    bytesInFlight -= record.size
                    delivered(record)
                case .lost:
                    lostCount -= 1
                    delivered(record)
                case .sacked:
                    break
                }
            }
            flight.removeFirst(count)
            base = ack.cumulative
            consecutiveTimeouts = 0
        }
        for range in ack.ranges {
            var sequence = max(range.start, base)
            while sequence < range.end {
                let index = flight.startIndex + Int(sequence - base)
                switch flight[index].state {
                case .inFlight:
                    bytesInFlight -= flight[index].size
                    flight[index].state = .sacked
                    delivered(flight[index])
                case .lost:
                    lostCount -= 1
                    flight[index].state = .sacked
                    delivered(flight[index])
                case .sacked:
                    break
                }
                sequence += 1
            }
        }

        if let sample {
            rtt.add(sample: Double(now - sample.sentAt), ackDelay: Double(ack.ackDelay))
        }
        if let newest, newest.order > (rackOrder ?? 0) { rackOrder = newest.order }
        if deliveredBytes > 0 {
            congestion.acknowledged(bytes: windowLimited ? deliveredBytes : 0, cumulative: base)
        }
        if advanced {
            rtoDeadline = bytesInFlight > 0 ? now + rtt.timeout : nil
        }
        detectLosses(now: now)
        if bytesInFlight == 0 && lostCount == 0 { rtoDeadline = nil }
    }

    // MARK: Timers

    mutating func tick(now: UInt64) {
        if let deadline = rtoDeadline, now >= deadline {
            for index in flight.indices where flight[index].state == .inFlight {
                flight[index].state = .lost
                lostCount += 1
            }
            bytesInFlight = 0
            congestion.timedOut(repeated: consecutiveTimeouts > 0)
            rtt.backOff()
            consecutiveTimeouts += 1
            statistics.timeouts += 1
            rtoDeadline = nil  // armed again by the retransmission
            rackDeadline = nil
            return
        }
        detectLosses(now: now)
    }

    /// RACK: a segment sent before the newest delivered transmission is lost once it is overdue
    /// by the reordering window.
    private mutating func detectLosses(now: UInt64) {
        rackDeadline = nil
        guard let rackOrder else { return }
        let roundTrip = rtt.latest ?? rtt.smoothed ?? Double(rtt.timeout)
        let reorderWindow = max((rtt.minimum ?? roundTrip) / 4, 1)
        let wait = UInt64((roundTrip + reorderWindow).rounded(.up))
        let sentEnd = base + UInt64(flight.count)
        for index in flight.indices {
            // Every record from here on was first sent after the newest delivered transmission.
            if flight[index].firstOrder >= rackOrder { break }
            guard flight[index].state == .inFlight, flight[index].order < rackOrder else { continue }
            let due = flight[index].sentAt + wait
            if now >= due {
                flight[index].state = .lost
                bytesInFlight -= flight[index].size
                lostCount += 1
                if congestion.lost(sequence: flight[index].segment.sequence, highestSent: sentEnd - 1) {
                    statistics.recoveries += 1
                }
            } else {
                rackDeadline = min(rackDeadline ?? due, due)
            }
        }
    }

    func nextDeadline(now: UInt64) -> UInt64? {
        var deadlines = [rtoDeadline, rackDeadline].compactMap { $0 }
        if let rate = pacingRate, pacingTokens <= 0, lostCount > 0 || queuedSegments > 0 {
            // Counted from the last refill, not from `now`: a shell that asks again before polling
            // must get the same deadline, or it would put it off for ever.
            deadlines.append((pacingRefilledAt ?? now) + max(1, UInt64((-pacingTokens / rate).rounded(.up))))
        }
        return deadlines.min()
    }
}
