import KithTestSupport
import KithWire
import Testing
@testable import KithCore

// MARK: - A simulated link

/// One direction of a path: a bottleneck of `bandwidth` bytes per millisecond with a drop-tail
/// queue, a fixed one-way delay, and random loss, reordering (extra delay) and duplication.
/// Every datagram counts 32 bytes of Kith transport overhead (header and AEAD tag) on top of
/// the stream frame.
struct SimulatedLink {
    var bandwidth: Double = 1000
    var delay: Double = 10
    var loss = 0.0
    var reorder = 0.0
    var reorderDelay = 8.0
    var duplicate = 0.0
    var queueLimit = 64_000
    /// Everything sent in this time range is lost.
    var blackout: Range<UInt64>?
    /// Drops a datagram for which this returns true (deterministic, targeted loss).
    var dropIf: (([UInt8]) -> Bool)?
    static let overhead = 32

    private var busyUntil = 0.0
    private var inTransit: [(at: Double, to: Int, frame: [UInt8])] = []
    private(set) var queueDrops = 0
    private(set) var randomDrops = 0

    init() {}

    mutating func send(_ frame: [UInt8], to endpoint: Int, now: UInt64, random: inout SplitMix64) {
        if let blackout, blackout.contains(now) { return }
        if let dropIf, dropIf(frame) { return }
        if random.unit() < loss { randomDrops += 1; return }
        let size = Double(frame.count + Self.overhead)
        let start = max(Double(now), busyUntil)
        guard (start - Double(now)) * bandwidth + size <= Double(queueLimit) else { queueDrops += 1; return }
        busyUntil = start + size / bandwidth
        var arrival = busyUntil + delay
        if random.unit() < reorder { arrival += random.unit() * reorderDelay }
        inTransit.append((arrival, endpoint, frame))
        if random.unit() < duplicate { inTransit.append((arrival + random.unit() * reorderDelay, endpoint, frame)) }
    }

    mutating func arrivals(now: UInt64) -> [(to: Int, frame: [UInt8])] {
        let due = inTransit.filter { $0.at <= Double(now) }.sorted { $0.at < $1.at }
        inTransit.removeAll { $0.at <= Double(now) }
        return due.map { ($0.to, $0.frame) }
    }
}

extension SplitMix64 {
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}

/// Sender/receiver pairs sharing one forward link (data) and one backward link (acks), on a
/// virtual clock that advances a millisecond per step.
struct Simulation {
    struct Pair {
        var sender: ReliableStream
        var receiver: ReliableStream
        var sent: [[UInt8]] = []
        var delivered: [[UInt8]] = []
        var deliveredBytes = 0
        var maxBuffered = 0
        var maxRTO: UInt64 = 0
        /// Messages the application still wants to send; nil: unlimited.
        var remaining: Int?
        var startAt: UInt64 = 0
        var messageSize: (inout SplitMix64) -> Int = { _ in 65536 }
    }

    var now: UInt64 = 0
    var random: SplitMix64
    var forward = SimulatedLink()
    var backward = SimulatedLink()
    var pairs: [Pair] = []
    var errors: [String] = []

    init(seed: UInt64, pairs count: Int = 1, configuration: ReliableStream.Configuration = .init()) {
        random = SplitMix64(seed: seed)
        for index in 0..<count {
            let id = UInt32(index + 1)
            pairs.append(Pair(sender: ReliableStream(streamID: id, configuration: configuration),
                              receiver: ReliableStream(streamID: id, configuration: configuration)))
        }
    }

    /// Message `index` of pair `pair`: its bytes depend on both, so a mix-up shows.
    static func message(pair: Int, index: Int, size: Int) -> [UInt8] {
        var generator = SplitMix64(seed: UInt64(pair) << 32 | UInt64(index))
        return (0..<size).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
    }

    var allDelivered: Bool { pairs.allSatisfy { $0.remaining == 0 && $0.delivered.count == $0.sent.count } }

    mutating func step() {
        for (to, bytes) in forward.arrivals(now: now) { deliver(bytes, to: to, receiverSide: true) }
        for (to, bytes) in backward.arrivals(now: now) { deliver(bytes, to: to, receiverSide: false) }
        for index in pairs.indices where now >= pairs[index].startAt {
            feed(index)
            for frame in pairs[index].sender.poll(now: now) { forward.send(frame.encoded(), to: index, now: now, random: &random) }
            for frame in pairs[index].receiver.poll(now: now) { backward.send(frame.encoded(), to: index, now: now, random: &random) }
            pairs[index].maxBuffered = max(pairs[index].maxBuffered, pairs[index].receiver.receiver.bufferedSegments)
            pairs[index].maxRTO = max(pairs[index].maxRTO, pairs[index].sender.sender.rtt.timeout)
        }
        now += 1
    }

    /// Yields every 64 simulated milliseconds: these runs take seconds of CPU, and the tests'
    /// thread pool (one thread per core) also runs the integration tests' timers.
    mutating func run(until end: UInt64, stopWhenDone: Bool = false) async {
        while now < end {
            step()
            if stopWhenDone && allDelivered { return }
            if now % 64 == 0 { await Task.yield() }
        }
    }

    /// Keeps a couple of messages queued, like a file sender reading ahead.
    private mutating func feed(_ index: Int) {
        while pairs[index].sender.sender.queuedSegments < 120, pairs[index].remaining ?? 1 > 0 {
            let size = pairs[index].messageSize(&random)
            let message = Self.message(pair: index, index: pairs[index].sent.count, size: size)
            do { try pairs[index].sender.send(message) } catch { errors.append("send: \(error)"); return }
            pairs[index].sent.append(message)
            if let remaining = pairs[index].remaining { pairs[index].remaining = remaining - 1 }
        }
    }

    private mutating func deliver(_ bytes: [UInt8], to index: Int, receiverSide: Bool) {
        let frame: StreamFrame
        do { frame = try StreamFrame.decode(bytes[...]) } catch { errors.append("decode: \(error)"); return }
        do {
            if receiverSide {
                let messages = try pairs[index].receiver.receive(frame, now: now)
                for message in messages {
                    let position = pairs[index].delivered.count
                    if position >= pairs[index].sent.count || pairs[index].sent[position] != message {
                        errors.append("pair \(index): message \(position) wrong or unexpected")
                    }
                    pairs[index].delivered.append(message)
                    pairs[index].deliveredBytes += message.count
                }
            } else {
                _ = try pairs[index].sender.receive(frame, now: now)
            }
        } catch {
            errors.append("stream: \(error)")
        }
    }

    /// Bytes of messages delivered per millisecond over a run of `duration` ms from now.
    mutating func goodput(pair: Int = 0, over duration: UInt64) async -> Double {
        let before = pairs[pair].deliveredBytes, start = now
        await run(until: now + duration)
        return Double(pairs[pair].deliveredBytes - before) / Double(now - start)
    }
}

// MARK: - Tests

@Suite struct ReliableStreamTests {
    static let lossRates = [0.0, 0.01, 0.05]

    /// Mixed sizes (empty, one byte, around a segment boundary, 64 KiB), reordering and
    /// duplication on both links, loss on both: everything arrives once, in order, byte-equal.
    @Test(arguments: lossRates)
    func deliversEveryMessageOnceInOrder(loss: Double) async {
        var sim = Simulation(seed: 42 &+ UInt64(loss * 1000))
        for link in [\Simulation.forward, \Simulation.backward] {
            sim[keyPath: link].loss = loss
            sim[keyPath: link].reorder = 0.05
            sim[keyPath: link].duplicate = 0.02
        }
        let sizes = [0, 1, 1299, 1300, 1301, 2600, 65536, 40000, 7]
        var picked = 0
        sim.pairs[0].remaining = 400
        sim.pairs[0].messageSize = { random in
            picked += 1
            return picked % 3 == 0 ? Int(random.next() % 65537) : sizes[picked % sizes.count]
        }
        await sim.run(until: 600_000, stopWhenDone: true)
        let pair = sim.pairs[0]
        #expect(sim.errors.isEmpty, "\(sim.errors.prefix(5))")
        #expect(pair.delivered.count == 400)
        #expect(pair.delivered == pair.sent)
        #expect(pair.maxBuffered <= pair.receiver.configuration.receiveWindow)
        #expect(pair.receiver.receiver.statistics.messagesDelivered == 400)
        print("loss \(loss): 400 messages, \(pair.deliveredBytes) bytes in \(sim.now) ms,"
              + " retransmissions \(pair.sender.sender.statistics.retransmissions),"
              + " timeouts \(pair.sender.sender.statistics.timeouts), max buffered \(pair.maxBuffered)")
    }

    /// 1000 bytes/ms (8 Mbit/s), 10 ms each way, a 64 kB queue: after slow start the stream
    /// fills the link at 0% loss and keeps a fair share of it at 1%.
    @Test func goodputAgainstLinkBandwidth() async {
        var results: [Double: Double] = [:]
        for loss in Self.lossRates {
            var sim = Simulation(seed: 7)
            sim.forward.loss = loss
            sim.backward.loss = loss
            sim.forward.reorder = 0.01
            await sim.run(until: 3000)  // slow start and settling
            let goodput = await sim.goodput(over: 20_000)
            results[loss] = goodput / sim.forward.bandwidth
            #expect(sim.errors.isEmpty)
            let s = sim.pairs[0].sender.sender
            print("loss \(loss): goodput \(Int(goodput)) B/ms of \(Int(sim.forward.bandwidth)) ="
                  + " \(Int((goodput / sim.forward.bandwidth * 100).rounded())) %, srtt \(Int(s.rtt.smoothed ?? 0)) ms,"
                  + " recoveries \(s.statistics.recoveries), timeouts \(s.statistics.timeouts),"
                  + " queue drops \(sim.forward.queueDrops)")
        }
        #expect(results[0.0]! >= 0.8)
        #expect(results[0.01]! >= 0.4)
        #expect(results[0.05]! >= 0.1)
    }

    /// One data segment dropped once, mid-transfer: the loss is found from SACKs (no timeout),
    /// the window halves exactly once and the segment is sent again.
    @Test func windowHalvesOnLoss() async {
        var sim = Simulation(seed: 1)
        sim.forward.queueLimit = 1 << 30  // no queue drops: the one loss is ours
        var dropped = false
        sim.forward.dropIf = { frame in
            guard !dropped, case .segment(let segment)? = try? StreamFrame.decode(frame[...]), segment.sequence == 100 else {
                return false
            }
            dropped = true
            return true
        }
        var before = 0.0, after = 0.0
        while sim.now < 5000 {
            let window = sim.pairs[0].sender.sender.congestion.window
            let recoveries = sim.pairs[0].sender.sender.statistics.recoveries
            sim.step()
            if recoveries == 0 && sim.pairs[0].sender.sender.statistics.recoveries == 1 {
                before = window
                after = sim.pairs[0].sender.sender.congestion.window
            }
        }
        let sender = sim.pairs[0].sender.sender
        #expect(before > 0)
        #expect(after / before > 0.45 && after / before < 0.56, "cwnd \(before) → \(after)")
        #expect(sender.congestion.slowStartThreshold == after)
        #expect(sender.statistics.recoveries == 1)
        #expect(sender.statistics.timeouts == 0)
        #expect(sender.statistics.retransmissions >= 1)
        #expect(sim.errors.isEmpty)
        #expect(sim.pairs[0].delivered == Array(sim.pairs[0].sent.prefix(sim.pairs[0].delivered.count)))
    }

    /// A 2 s blackout in both directions: the timer fires, backs off, and the stream recovers
    /// when the path returns, with its timeout back near the RTT.
    @Test func timeoutBacksOffAndRecoversAfterBlackout() async {
        var sim = Simulation(seed: 5)
        sim.forward.blackout = 3000..<5000
        sim.backward.blackout = 3000..<5000
        await sim.run(until: 3000)
        let rtoBefore = sim.pairs[0].sender.sender.rtt.timeout
        sim.pairs[0].maxRTO = 0
        await sim.run(until: 5000)
        let during = sim.pairs[0].sender.sender.statistics.timeouts
        let maxRTO = sim.pairs[0].maxRTO
        #expect(during >= 2, "timeouts during blackout: \(during)")
        #expect(maxRTO >= 2 * max(rtoBefore, 200), "rto \(rtoBefore) → \(maxRTO)")
        await sim.run(until: 9000)  // the next retransmission gets through
        let goodput = await sim.goodput(over: 10_000)
        let sender = sim.pairs[0].sender.sender
        print("blackout: rto \(rtoBefore) ms before, up to \(maxRTO) ms, \(sender.rtt.timeout) ms after;"
              + " timeouts \(sender.statistics.timeouts); goodput after \(Int(goodput)) B/ms")
        #expect(sender.rtt.timeout < 1000)
        #expect(goodput >= 0.7 * sim.forward.bandwidth)
        #expect(sim.errors.isEmpty)
        #expect(sim.pairs[0].delivered == Array(sim.pairs[0].sent.prefix(sim.pairs[0].delivered.count)))
    }

    /// Two streams through one bottleneck, the second starting 2 s later: they end up within
    /// 2× of each other, and together they fill the link.
    @Test func twoStreamsShareABottleneck() async {
        var sim = Simulation(seed: 9, pairs: 2)
        sim.pairs[1].startAt = 2000
        await sim.run(until: 10_000)
        let start = sim.pairs.map(\.deliveredBytes)
        await sim.run(until: 40_000)
        let rates = sim.pairs.indices.map { Double(sim.pairs[$0].deliveredBytes - start[$0]) / 30_000 }
        let ratio = rates.max()! / rates.min()!
        print("fairness: \(rates.map { Int($0) }) B/ms, ratio \(ratio), total \(Int(rates.reduce(0, +))) of \(Int(sim.forward.bandwidth))")
        #expect(ratio <= 2)
        #expect(rates.reduce(0, +) >= 0.8 * sim.forward.bandwidth)
        #expect(sim.errors.isEmpty)
    }

    // MARK: Receiver

    @Test func receiverBufferIsBoundedByItsWindow() throws {
        var stream = ReliableStream(streamID: 3)
        let window = stream.configuration.receiveWindow
        func segment(_ sequence: UInt64) -> Segment {
            Segment(streamID: 3, sequence: sequence, first: true, last: true, payload: [UInt8(truncatingIfNeeded: sequence)])
        }
        for sequence in 1..<UInt64(3 * window) {
            #expect(try stream.receiveSegment(segment(sequence), now: 0).isEmpty)
        }
        #expect(stream.receiver.bufferedSegments == window - 1)
        #expect(stream.receiver.statistics.beyondWindow == 2 * window)
        let pending = stream.pendingAck(now: 0)
        let ack = try #require(pending)
        #expect(ack.cumulative == 0)
        #expect(ack.window == UInt32(window))
        #expect(ack.ranges == [SackRange(1, UInt64(window))])
        let delivered = try stream.receiveSegment(segment(0), now: 1)
        #expect(delivered.count == window)
        #expect(delivered.last == [UInt8(truncatingIfNeeded: window - 1)])
        #expect(stream.receiver.bufferedSegments == 0)
        let after = stream.pendingAck(now: 1)
        #expect(after?.window == UInt32(window))
    }

    @Test func acksAreDelayedOrEverySecondSegment() throws {
        var stream = ReliableStream(streamID: 1)
        func segment(_ sequence: UInt64) -> Segment {
            Segment(streamID: 1, sequence: sequence, first: true, last: true, payload: [1])
        }
        _ = try stream.receiveSegment(segment(0), now: 100)
        var acks = [100, 124, 125, 126].map { stream.pendingAck(now: $0) }
        #expect(acks.map { $0?.cumulative } == [nil, nil, 1, nil])
        #expect(acks[2]?.ackDelay == 25)
        _ = try stream.receiveSegment(segment(1), now: 200)
        _ = try stream.receiveSegment(segment(2), now: 201)
        acks = [stream.pendingAck(now: 201)]
        #expect(acks[0]?.cumulative == 3)
        _ = try stream.receiveSegment(segment(5), now: 300)  // out of order: at once
        acks = [stream.pendingAck(now: 300)]
        let ack = try #require(acks[0])
        #expect(ack.cumulative == 3 && ack.ranges == [SackRange(5, 6)])
        _ = try stream.receiveSegment(segment(1), now: 301)  // duplicate: at once
        acks = [stream.pendingAck(now: 301)]
        #expect(acks[0] != nil)
    }

    @Test func fragmentsOutOfOrderCloseTheStream() {
        var stream = ReliableStream(streamID: 1)
        #expect(throws: StreamError.badFragment("segment 0 continues a message that never started")) {
            try stream.receiveSegment(Segment(streamID: 1, sequence: 0, first: false, last: true, payload: []), now: 0)
        }
        var other = ReliableStream(streamID: 1)
        _ = try? other.receiveSegment(Segment(streamID: 1, sequence: 0, first: true, last: false, payload: [1]), now: 0)
        #expect(throws: StreamError.self) {
            try other.receiveSegment(Segment(streamID: 1, sequence: 1, first: true, last: true, payload: [2]), now: 0)
        }
        var sender = ReliableStream(streamID: 1)
        #expect(throws: StreamError.messageTooLarge("65537 bytes, limit 65536")) {
            try sender.send([UInt8](repeating: 0, count: 65537))
        }
    }

    // MARK: Sender parts

    @Test func rttEstimatorFollowsRFC6298AndKarn() {
        var rtt = RTTEstimator(initial: 1000, minTimeout: 200, maxTimeout: 60_000)
        #expect(rtt.timeout == 1000)
        rtt.add(sample: 100, ackDelay: 0)
        #expect(rtt.smoothed == 100 && rtt.variation == 50 && rtt.timeout == 300)
        rtt.backOff()
        rtt.backOff()
        #expect(rtt.timeout == 1200)
        rtt.add(sample: 100, ackDelay: 0)
        #expect(rtt.timeout == 250)  // 100 + 4·37.5: recomputed, no backoff left
        for _ in 0..<50 { rtt.add(sample: 10, ackDelay: 0) }
        #expect(rtt.timeout == 200)  // the floor
        #expect(rtt.minimum == 10)
        for _ in 0..<20 { rtt.backOff() }
        #expect(rtt.timeout == 60_000)
    }

    @Test func retransmittedSegmentsGiveNoRTTSample() {
        var stream = ReliableStream(streamID: 1)
        try? stream.send([1, 2, 3])
        #expect(stream.pollSegments(now: 0).count == 1)
        stream.tick(now: 1000)  // timeout: lost
        #expect(stream.sender.statistics.timeouts == 1 && stream.sender.rtt.timeout == 2000)
        #expect(stream.pollSegments(now: 1000).count == 1)
        stream.receiveAck(AckFrame(streamID: 1, cumulative: 1, window: 256), now: 1050)
        #expect(stream.sender.rtt.smoothed == nil)  // ambiguous: the first send or the second?
        #expect(stream.sender.rtt.timeout == 2000)
        #expect(stream.sender.isIdle)
        // Collapsed to one segment; 17 bytes in flight did not fill it, so the ack did not grow it.
        #expect(stream.sender.congestionWindow == stream.configuration.segmentSize)
    }

    /// The shell's timer: the retransmission timeout while data is out, the ack deadline when
    /// an ack waits, nothing when idle.
    @Test func nextDeadlineNamesTheEarliestTimer() throws {
        var a = ReliableStream(streamID: 1), b = ReliableStream(streamID: 1)
        #expect(a.nextDeadline(now: 0) == nil)
        try a.send([1, 2, 3])
        let frames = a.poll(now: 10)
        #expect(frames.count == 1)
        #expect(a.nextDeadline(now: 10) == 1010)
        for case .segment(let segment) in frames { _ = try b.receiveSegment(segment, now: 30) }
        #expect(b.nextDeadline(now: 30) == 55)
        #expect(b.poll(now: 40).isEmpty)
        let acks = b.poll(now: 55)
        #expect(acks.count == 1)
        for frame in acks { _ = try a.receive(frame, now: 80) }
        #expect(a.nextDeadline(now: 80) == nil && b.nextDeadline(now: 80) == nil)
        #expect(a.sender.rtt.smoothed == 70)  // 70 ms: the 25 ms ack delay is not subtracted from the first sample
    }

    @Test func newRenoCutsOncePerRecovery() {
        var reno = NewReno(segmentSize: 1000, maxWindow: 1 << 20)
        #expect(reno.window == 10_000 && reno.inSlowStart)
        reno.acknowledged(bytes: 90_000, cumulative: 90)
        #expect(reno.window == 100_000)
        let cut = reno.lost(sequence: 95, highestSent: 199)
        #expect(cut)
        #expect(reno.window == 50_000 && reno.slowStartThreshold == 50_000)
        let cutAgain = reno.lost(sequence: 150, highestSent: 210)
        #expect(!cutAgain)  // same episode
        reno.acknowledged(bytes: 5000, cumulative: 150)
        #expect(reno.window == 50_000)  // no growth in recovery
        reno.acknowledged(bytes: 5000, cumulative: 200)
        #expect(!reno.inRecovery && reno.window == 50_100)  // congestion avoidance: + MSS·acked/cwnd
        reno.timedOut(repeated: false)
        #expect(reno.window == 1000 && reno.slowStartThreshold == 25_050)
        reno.timedOut(repeated: true)
        #expect(reno.slowStartThreshold == 25_050)
    }

    @Test func flowControlStopsAtThePeersWindow() {
        var configuration = ReliableStream.Configuration()
        configuration.pacing = false
        var stream = ReliableStream(streamID: 1, configuration: configuration)
        for _ in 0..<200 { try? stream.send([UInt8](repeating: 0, count: 1300)) }
        #expect(stream.pollSegments(now: 0).count == 10)  // initial window, 10 segments
        stream.receiveAck(AckFrame(streamID: 1, cumulative: 10, window: 5), now: 20)
        let next = stream.pollSegments(now: 20)
        #expect(next.map(\.sequence) == Array(10..<15))
        stream.receiveAck(AckFrame(streamID: 1, cumulative: 100, window: 5), now: 21)  // never sent: ignored
        #expect(stream.sender.statistics.bogusAcks == 1)
        #expect(stream.pollSegments(now: 21).isEmpty)
    }

    // MARK: Wire

    static let sampleAck = AckFrame(streamID: 0x0102_0304, cumulative: 1000, window: 256, ackDelay: 7,
                                    ranges: [SackRange(1002, 1005), SackRange(1010, 1011), SackRange(1020, 1040), SackRange(2000, 2001)])
    static let sampleSegment = Segment(streamID: 9, sequence: 1 << 40, first: true, last: false, payload: Array(0..<200))

    @Test func framesRoundTripAndHaveTheDocumentedLayout() throws {
        let ack = Self.sampleAck.encoded()
        #expect(ack.count == StreamLimits.ackMaxSize)
        #expect(Array(ack.prefix(21)) == [0x41, 0, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0x03, 0xe8, 0, 0, 1, 0, 0, 7, 4])
        #expect(Array(ack[21..<29]) == [0, 0, 0, 2, 0, 0, 0, 3])
        #expect(try AckFrame.decode(ack[...]) == Self.sampleAck)
        let segment = Self.sampleSegment.encoded()
        #expect(Array(segment.prefix(14)) == [0x40, 0x01, 0, 0, 0, 9, 0, 0, 1, 0, 0, 0, 0, 0])
        #expect(try Segment.decode(segment[...]) == Self.sampleSegment)
        #expect(try StreamFrame.decode(segment[...]) == .segment(Self.sampleSegment))
        #expect(try StreamFrame.decode(ack[...]) == .ack(Self.sampleAck))
        let full = Segment(streamID: 1, sequence: 0, first: true, last: true, payload: [UInt8](repeating: 1, count: StreamLimits.maxSegmentPayload))
        #expect(full.encoded().count == StreamLimits.maxFrame)
        #expect(try Segment.decode(full.encoded()[...]) == full)
    }

    @Test func decodersRefuseTruncatedFrames() {
        let ack = Self.sampleAck.encoded()
        for cut in 0..<ack.count {
            #expect(throws: WireError.self) { try AckFrame.decode(ack.prefix(cut)) }
            #expect(kind { try AckFrame.decode(ack.prefix(cut)) } == .truncated, "ack cut at \(cut)")
            #expect(kind { try StreamFrame.decode(ack.prefix(cut)) } == .truncated, "frame cut at \(cut)")
        }
        let segment = Self.sampleSegment.encoded()
        for cut in 0..<StreamLimits.segmentHeader {
            #expect(kind { try Segment.decode(segment.prefix(cut)) } == .truncated, "segment cut at \(cut)")
        }
    }

    @Test func decodersRefuseOversizedFrames() {
        var segment = Segment(streamID: 1, sequence: 0, first: true, last: true, payload: []).encoded()
        segment += [UInt8](repeating: 0, count: StreamLimits.maxSegmentPayload + 1)
        #expect(kind { try Segment.decode(segment[...]) } == .oversized)
        var ack = Self.sampleAck.encoded()
        ack += [0, 0, 0, 1, 0, 0, 0, 1]
        #expect(kind { try AckFrame.decode(ack[...]) } == .oversized)
        var fiveRanges = AckFrame(streamID: 1, cumulative: 0, window: 1).encoded()
        fiveRanges[20] = 5
        #expect(kind { try AckFrame.decode(fiveRanges[...]) } == .oversized)
    }

    @Test func decodersRefuseTamperedFrames() {
        func patched(_ bytes: [UInt8], _ offset: Int, _ value: UInt8) -> ArraySlice<UInt8> {
            var copy = bytes
            copy[offset] = value
            return copy[...]
        }
        let ack = Self.sampleAck.encoded(), segment = Self.sampleSegment.encoded()
        #expect(kind { try StreamFrame.decode(patched(ack, 0, 0)) } == .unknownType)  // an envelope, not a frame
        let empty = Segment(streamID: 1, sequence: 0, first: true, last: true, payload: []).encoded()
        #expect(kind { try AckFrame.decode(empty[...]) } == .unknownType)
        #expect(kind { try Segment.decode(ack[...]) } == .unknownType)
        #expect(kind { try Segment.decode(patched(segment, 1, 0x04)) } == .malformed)  // reserved flag
        #expect(kind { try AckFrame.decode(patched(ack, 1, 1)) } == .malformed)  // reserved byte
        #expect(kind { try AckFrame.decode(patched(ack, 24, 0)) } == .malformed)  // first range at offset 0
        #expect(kind { try AckFrame.decode(patched(ack, 28, 0)) } == .malformed)  // empty range
        #expect(kind { try AckFrame.decode(patched(ack, 32, 5)) } == .malformed)  // adjacent to the one before
        #expect(kind { try AckFrame.decode(patched(ack, 32, 3)) } == .malformed)  // overlapping
        #expect(kind { try AckFrame.decode((ack + [0])[...]) } == .oversized)
        var short = AckFrame(streamID: 1, cumulative: 5, window: 1, ranges: [SackRange(7, 8)]).encoded()
        short.append(0)
        #expect(kind { try AckFrame.decode(short[...]) } == .malformed)  // a byte after the last range
        var high = AckFrame(streamID: 1, cumulative: .max - 10, window: 1).encoded()
        high[20] = 1
        high += [0, 0, 0, 5, 0, 0, 0, 20]
        #expect(kind { try AckFrame.decode(high[...]) } == .malformed)  // past 2^64
    }

    /// Random mutations of valid frames: every input either decodes to a frame that re-encodes to
    /// the same bytes or is refused with a WireError; nothing traps.
    @Test func decodersSurviveMutationsAndStayCanonical() {
        var random = SplitMix64(seed: 2024)
        let seeds = [Self.sampleAck.encoded(), Self.sampleSegment.encoded(),
                     AckFrame(streamID: 1, cumulative: 0, window: 0).encoded()]
        var decoded = 0, refused = 0
        for _ in 0..<20_000 {
            var bytes = seeds[Int(random.next() % UInt64(seeds.count))]
            for _ in 0..<(1 + random.next() % 4) {
                switch random.next() % 4 {
                case 0: if !bytes.isEmpty { bytes[Int(random.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: random.next()) }
                case 1: bytes = Array(bytes.prefix(Int(random.next() % UInt64(bytes.count + 1))))
                case 2: bytes.append(UInt8(truncatingIfNeeded: random.next()))
                default: if !bytes.isEmpty { bytes[Int(random.next() % UInt64(bytes.count))] ^= 1 << (random.next() % 8) }
                }
            }
            do {
                let frame = try StreamFrame.decode(bytes[...])
                #expect(frame.encoded() == bytes)
                decoded += 1
            } catch {
                refused += 1
            }
        }
        #expect(decoded > 100 && refused > 100)
    }

    /// The kind of `WireError` the body threw, nil if it returned (any other error is a failure).
    private func kind<T>(_ body: () throws -> T) -> WireError.Kind? {
        do { _ = try body(); return nil } catch let error as WireError { return error.kind } catch {
            Issue.record("not a WireError: \(error)")
            return nil
        }
    }
}
