import KithAPI
import Foundation
import KithCore
import KithCrypto
import KithNet
import KithWire
import Logging
import NIOCore

/// The UDP streams of `DirectPaths` (spec §UDP stream): reliable, congestion-controlled streams
/// whose frames ride in the transport-data packets of a sibling's direct session. `StreamDirectory`
/// decides which frames open, feed or are refused; `ReliableStream` does the rest; this file
/// seals what they return and runs their timers. A stream carries envelopes exactly as a TCP
/// device stream does, so the transfer code reads it through `Conduit`.
struct UDPStreams {
    struct Key: Hashable, Sendable {
        var peer: String
        var id: UInt32
    }

    /// One open stream; only the actor touches it.
    final class Stream {
        let key: Key
        var machine = ReliableStream(streamID: 0)
        let events = EventQueue<SecureChannelEvent>()
        /// Writers waiting for the send queue to drain.
        var writers: [CheckedContinuation<Void, any Error>] = []
        /// The opener waits until its empty first message is acknowledged.
        var opening: CheckedContinuation<Void, any Error>?
        var lastHeard: UInt64
        var lastKeepalive: UInt64
        /// The local reader is done; the stream lingers until what it sent is acknowledged.
        var closingSince: UInt64?
        var openedHere: Bool
        /// Segments dropped because the reader fell behind (`maxUnread`).
        var droppedSegments = 0
        var lastTrace: UInt64 = 0

        init(key: Key, now: UInt64, openedHere: Bool) {
            self.key = key
            machine = ReliableStream(streamID: key.id, configuration: UDPStreams.configuration)
            lastHeard = now
            lastKeepalive = now
            self.openedHere = openedHere
        }
    }

    var directory = StreamDirectory<String>()
    var open: [Key: Stream] = [:]
    /// Hands a stream a sibling opened to the transfer code; nil: streams are refused.
    var acceptor: (@Sendable (UDPConduit, String) -> Void)?
    /// A sibling whose stream did not open is not tried again before `until` (about 1 s, doubling
    /// to a minute, jittered).
    var backoff: [String: (until: UInt64, schedule: Backoff)] = [:]
    var timer: (deadline: UInt64, task: Task<Void, Never>)?
    /// Dropped frames per sibling since the last log line about them (one line per burst).
    var dropped: [String: Int] = [:]

    /// The machine's settings for the agent's streams: a receive window of 1024 segments (1.3 MB)
    /// and a congestion window of up to 2 MiB, so a stream is not window-bound below ~100 MB/s at a
    /// 10 ms round trip.
    static let configuration: ReliableStream.Configuration = {
        var configuration = ReliableStream.Configuration()
        configuration.receiveWindow = 1024
        configuration.maxWindow = 2 << 20
        return configuration
    }()

    /// Send queue bounds, in segments: a writer waits above `highWater` until it is below `lowWater`.
    static let highWater = 2048
    static let lowWater = 1024
    /// Complete messages the reader has not taken: above this, new segments are dropped (and
    /// retransmitted by the peer later), so a slow disk slows the sender instead of filling memory.
    static let maxUnread = 256
    /// A stream with nothing heard for this long is broken (spec §UDP stream, "Liveness").
    static let silence: UInt64 = 15_000
    static let keepaliveEvery: UInt64 = 5_000
    /// How long an open waits for its first message to be acknowledged, and a closing stream for its data.
    static let openTimeout: UInt64 = 3_000
    /// KITH_STREAM_TRACE=1: a line per stream and second with the machine's state (for tuning).
    static let trace = ProcessInfo.processInfo.environment["KITH_STREAM_TRACE"] == "1"
    static let lingerTimeout: UInt64 = 10_000
}

/// Why a UDP stream ended, for the transfer's reason line.
struct UDPStreamError: Error, CustomStringConvertible {
    let description: String
}

extension DirectPaths {
    /// This side opens even stream ids with `peer` when its static key sorts lower (spec §UDP stream).
    func opensEven(with peer: String) -> Bool {
        guard let theirs = peers[peer]?.key.rawValue else { return true }
        return keys.publicKey.rawValue.lexicographicallyPrecedes(theirs)
    }

    /// Who takes the streams siblings open, with the path's name (`direct-udp`, `lan-udp`).
    func setStreamAcceptor(_ acceptor: @escaping @Sendable (UDPConduit, String) -> Void) {
        udpStreams.acceptor = acceptor
    }

    /// True when a stream to `peer` may be tried now: the path is direct and no recent open failed.
    func canOpenStream(to peer: String) -> Bool {
        guard peers[peer]?.machine.isDirect == true, sessions.sendTarget(for: peer) != nil else { return false }
        if let backoff = udpStreams.backoff[peer], clock() < backoff.until { return false }
        return true
    }

    /// Opens a UDP stream to `peer` and waits until the peer has acknowledged its first (empty)
    /// message, so a peer that does not take streams is found out at once, not by a silent transfer.
    func openStream(to peer: String) async throws -> UDPConduit {
        guard let key = peers[peer]?.key, canOpenStream(to: peer) else {
            throw UDPStreamError(description: "no direct UDP path to \(peer)")
        }
        guard let id = udpStreams.directory.newID(with: peer, localOpensEven: opensEven(with: peer),
                                                  random: { UInt32.random(in: 0...UInt32.max) }) else {
            throw UDPStreamError(description: "already \(StreamDirectory<String>.maxStreamsPerPeer) UDP streams with \(peer)")
        }
        let stream = makeStream(UDPStreams.Key(peer: peer, id: id), peerKey: key, openedHere: true)
        try? stream.machine.send([])  // the open marker: an empty message (spec §UDP stream, "Opening and closing")
        pump(stream)
        let started = clock()
        do {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                stream.opening = continuation
                Task {
                    try? await Task.sleep(for: .milliseconds(UDPStreams.openTimeout))
                    self.openTimedOut(stream)
                }
            }
        } catch {
            var schedule = udpStreams.backoff[peer]?.schedule ?? Backoff(baseMillis: 1000, capMillis: 60_000)
            udpStreams.backoff[peer] = (clock() + schedule.nextDelayMillis { Double.random(in: 0...1) }, schedule)
            throw error
        }
        udpStreams.backoff[peer] = nil
        logger.info("UDP stream \(id) to \(peer) open after \(clock() - started) ms")
        return UDPConduit(paths: self, key: stream.key, events: stream.events)
    }

    private func openTimedOut(_ stream: UDPStreams.Stream) {
        guard let opening = stream.opening else { return }
        stream.opening = nil
        end(stream, code: .done, error: nil)
        opening.resume(throwing: UDPStreamError(description: "\(stream.key.peer) did not acknowledge a UDP stream in \(UDPStreams.openTimeout) ms"))
    }

    private func makeStream(_ key: UDPStreams.Key, peerKey: PublicKey, openedHere: Bool) -> UDPStreams.Stream {
        let stream = UDPStreams.Stream(key: key, now: clock(), openedHere: openedHere)
        udpStreams.directory.opened(key.id, with: key.peer)
        udpStreams.open[key] = stream
        // Inside the direct session, whose datagrams are ChaCha20-Poly1305 (spec §UDP stream).
        stream.events.push(.established(remoteStatic: peerKey, cipher: .chaChaPoly))
        return stream
    }

    // MARK: - Frames in

    /// A transport plaintext that is a stream frame, from an authenticated session of `peer`.
    func streamFrame(_ plaintext: ArraySlice<UInt8>, from peer: String) {
        let frame: StreamFrame
        do { frame = try StreamFrame.decode(plaintext) } catch {
            return drop(from: peer, "an undecodable stream frame (\(error))")
        }
        switch udpStreams.directory.classify(frame, from: peer, localOpensEven: opensEven(with: peer)) {
        case .deliver:
            guard let stream = udpStreams.open[UDPStreams.Key(peer: peer, id: frame.streamID)] else { return }
            feed(stream, frame)
        case .accept:
            guard let acceptor = udpStreams.acceptor, let key = peers[peer]?.key else {
                return refuse(frame.streamID, to: peer, .unknownStream, "a UDP stream, but transfers are not running")
            }
            let stream = makeStream(UDPStreams.Key(peer: peer, id: frame.streamID), peerKey: key, openedHere: false)
            logger.info("UDP stream \(frame.streamID) from \(peer) opened")
            let path: String
            if case .direct(let candidate)? = peers[peer]?.machine.mode { path = candidate.kind.rawValue + "-udp" } else { path = "direct-udp" }
            acceptor(UDPConduit(paths: self, key: stream.key, events: stream.events), path)
            feed(stream, frame)
        case .reply(let code):
            refuse(frame.streamID, to: peer, code, "a frame of UDP stream \(frame.streamID), which is not open")
        case .drop(let why):
            drop(from: peer, why)
        }
    }

    private func refuse(_ id: UInt32, to peer: String, _ code: CloseFrame.Code, _ why: String) {
        drop(from: peer, "\(why); answered \(code)")
        sendFrames([.close(CloseFrame(streamID: id, code: code))], to: peer)
    }

    /// Logs the first dropped frame of a burst, then one line per 1000.
    private func drop(from peer: String, _ why: String) {
        let count = (udpStreams.dropped[peer] ?? 0) + 1
        udpStreams.dropped[peer] = count
        if count == 1 || count % 1000 == 0 { logger.notice("dropped a stream frame from \(peer): \(why) (\(count) so far)") }
    }

    private func feed(_ stream: UDPStreams.Stream, _ frame: StreamFrame) {
        let now = clock()
        stream.lastHeard = now
        if case .close(let close) = frame {
            let error = close.code == .done ? nil : UDPStreamError(description: "\(stream.key.peer) closed the UDP stream (\(close.code))")
            return end(stream, code: nil, error: error)
        }
        if case .segment = frame, stream.closingSince == nil, stream.events.count > UDPStreams.maxUnread {
            stream.droppedSegments += 1
            return
        }
        let messages: [[UInt8]]
        do { messages = try stream.machine.receive(frame, now: now) } catch {
            logger.warning("UDP stream \(stream.key.id) from \(stream.key.peer) broke its rules: \(error)")
            return end(stream, code: .error, error: UDPStreamError(description: "the UDP stream broke: \(error)"))
        }
        for message in messages where !message.isEmpty && stream.closingSince == nil {
            guard let envelope = try? Envelope.decode(message[...]) else {
                logger.warning("UDP stream \(stream.key.id) from \(stream.key.peer) carried a message that is not an envelope")
                return end(stream, code: .error, error: UDPStreamError(description: "the UDP stream carried a bad envelope"))
            }
            stream.events.push(.envelope(envelope))
        }
        if fedInBatch != nil { fedInBatch?.insert(stream.key) } else { pump(stream) }
    }

    // MARK: - Frames out

    /// Sends what the stream may send now, wakes its writers, and arms the timer.
    func pump(_ stream: UDPStreams.Stream) {
        let now = clock()
        let frames = stream.machine.poll(now: now)
        if !frames.isEmpty { sendFrames(frames, to: stream.key.peer) }
        let sender = stream.machine.sender
        if sender.isIdle, let opening = stream.opening {
            stream.opening = nil
            opening.resume()
        }
        if sender.queuedSegments < UDPStreams.lowWater, !stream.writers.isEmpty {
            let writers = stream.writers
            stream.writers = []
            for writer in writers { writer.resume() }
        }
        if stream.closingSince != nil, sender.isIdle {
            return end(stream, code: .done, error: nil)
        }
        if let deadline = stream.machine.nextDeadline(now: now) { armTimer(at: deadline) }
    }

    /// Seals frames on the sibling's send session and writes them in order; without a session they
    /// are lost, and the stream sends them again.
    private func sendFrames(_ frames: [StreamFrame], to peer: String) {
        guard let (index, address) = sessions.sendTarget(for: peer) else { return }
        // One visit to the session for all of them: the table's lookup costs as much as a seal.
        let packets = sessions.withSession(index) { session in
            frames.compactMap { try? session.seal($0.encoded()) }
        } ?? []
        write(packets, to: address)
    }

    private func armTimer(at deadline: UInt64) {
        if let timer = udpStreams.timer, timer.deadline <= deadline { return }
        udpStreams.timer?.task.cancel()
        // One reading of the clock: read twice, it can pass the deadline in between, and the
        // subtraction then traps (an agent crashed so in the network lab).
        let now = clock()
        let wait = deadline > now ? deadline - now : 0
        let task = Task {
            if wait > 0 { try? await Task.sleep(for: .milliseconds(wait)) }
            if Task.isCancelled { return }
            self.timerFired()
        }
        udpStreams.timer = (deadline, task)
    }

    private func timerFired() {
        udpStreams.timer = nil
        let now = clock()
        for stream in Array(udpStreams.open.values) {
            if let deadline = stream.machine.nextDeadline(now: now), deadline <= now { pump(stream) }
            else if let deadline = stream.machine.nextDeadline(now: now) { armTimer(at: deadline) }
        }
    }

    /// Every 100 ms from `tick`: keepalives, silent streams, lingering closes.
    func streamTick(now: UInt64) {
        for stream in Array(udpStreams.open.values) {
            if UDPStreams.trace, now >= stream.lastTrace + 1000 {
                stream.lastTrace = now
                let sender = stream.machine.sender, receiver = stream.machine.receiver
                logger.info("UDP stream \(stream.key.id) trace: inFlight \(sender.bytesInFlight) B, cwnd \(sender.congestionWindow) B, queued \(sender.queuedSegments), outstanding \(sender.outstandingSegments), peerLimit \(sender.peerLimit), sent \(sender.statistics.segmentsSent), srtt \(sender.rtt.smoothed ?? -1), writers \(stream.writers.count); received \(receiver.statistics.segmentsReceived), cumulative \(receiver.cumulative), unread \(stream.events.count), deadline \(stream.machine.nextDeadline(now: now).map { Int64($0) - Int64(now) } ?? -1), timer \(udpStreams.timer.map { Int64($0.deadline) - Int64(now) } ?? -1)")
            }
            if now >= stream.lastHeard + UDPStreams.silence {
                logger.info("UDP stream \(stream.key.id) with \(stream.key.peer): nothing heard for \(UDPStreams.silence / 1000) s")
                end(stream, code: .error, error: UDPStreamError(description: "the UDP stream to \(stream.key.peer) went silent"))
            } else if let since = stream.closingSince, now >= since + UDPStreams.lingerTimeout {
                end(stream, code: .done, error: nil)
            } else if now >= stream.lastKeepalive + UDPStreams.keepaliveEvery {
                stream.lastKeepalive = now
                stream.machine.requestAck(now: now)
                pump(stream)
            }
        }
    }

    // MARK: - The conduit's calls

    /// Queues envelopes on the stream; waits while its send queue is full.
    func streamWrite(_ key: UDPStreams.Key, _ envelopes: [Envelope]) async throws {
        for envelope in envelopes {
            guard let stream = udpStreams.open[key], stream.closingSince == nil else {
                throw UDPStreamError(description: "the UDP stream to \(key.peer) is closed")
            }
            let bytes = try envelope.encode()
            do { try stream.machine.send(bytes) } catch { throw UDPStreamError(description: "\(error)") }
            if stream.machine.sender.queuedSegments > UDPStreams.highWater {
                pump(stream)
                if stream.machine.sender.queuedSegments > UDPStreams.highWater {
                    try await withCheckedThrowingContinuation { stream.writers.append($0) }
                }
            }
        }
        if let stream = udpStreams.open[key] { pump(stream) }
    }

    /// The reader is done: what it sent still goes out (acknowledged, or `lingerTimeout`), then a close.
    func streamFinished(_ key: UDPStreams.Key) {
        guard let stream = udpStreams.open[key], stream.closingSince == nil else { return }
        stream.closingSince = clock()
        stream.events.finish()
        pump(stream)
    }

    /// Closed from outside (a cancel, a path switch): at once.
    func streamAbort(_ key: UDPStreams.Key) {
        guard let stream = udpStreams.open[key] else { return }
        end(stream, code: .done, error: nil)
    }

    /// Ends a stream: a close frame to the peer (unless `code` is nil: the peer closed it), the
    /// reader and the writers hear of it.
    private func end(_ stream: UDPStreams.Stream, code: CloseFrame.Code?, error: (any Error)?) {
        guard udpStreams.open.removeValue(forKey: stream.key) != nil else { return }
        udpStreams.directory.closed(stream.key.id, with: stream.key.peer)
        if let code { sendFrames([.close(CloseFrame(streamID: stream.key.id, code: code))], to: stream.key.peer) }
        // The reader sees the end as a TCP reader sees a closed connection: no error, just the
        // end (the receiving side then commits its progress as after any end of stream).
        if let error { logger.info("UDP stream \(stream.key.id) with \(stream.key.peer): \(error)") }
        stream.events.finish()
        let writers = stream.writers
        stream.writers = []
        for writer in writers { writer.resume(throwing: error ?? UDPStreamError(description: "the UDP stream closed")) }
        if let opening = stream.opening {
            stream.opening = nil
            opening.resume(throwing: error ?? UDPStreamError(description: "\(stream.key.peer) refused the UDP stream"))
        }
        let sender = stream.machine.sender, s = sender.statistics, r = stream.machine.receiver.statistics
        let srtt = sender.rtt.smoothed.map { String(format: "%.1f", $0) } ?? "-"
        logger.info("UDP stream \(stream.key.id) with \(stream.key.peer) ended: \(s.segmentsSent) segments sent, \(s.retransmissions) again, \(s.timeouts) timeouts, \(s.recoveries) recoveries, cwnd \(sender.congestionWindow) B, srtt \(srtt) ms; \(r.segmentsReceived) received, \(r.duplicates) duplicates, \(r.beyondWindow) beyond the window, \(stream.droppedSegments) dropped unread; the socket so far: \(socketCounts.datagramsRead) datagrams in \(socketCounts.reads) reads, \(socketCounts.datagramsWritten) in \(socketCounts.writes) writes")
    }

    /// The path to `peer` left direct, or the peer left: its streams end.
    func endStreams(of peer: String, reason: String) {
        for stream in Array(udpStreams.open.values) where stream.key.peer == peer {
            end(stream, code: nil, error: UDPStreamError(description: reason))
        }
    }
}

/// The UDP carrier of a conduit: a stream of `DirectPaths`, with the session's peer as its
/// verified key (spec §UDP stream, "Security").
struct UDPConduit: Conduit {
    let paths: DirectPaths
    let key: UDPStreams.Key
    let events: EventQueue<SecureChannelEvent>
    let handle: ConduitHandle

    init(paths: DirectPaths, key: UDPStreams.Key, events: EventQueue<SecureChannelEvent>) {
        self.paths = paths
        self.key = key
        self.events = events
        handle = ConduitHandle { [paths, key, events] in
            events.finish()
            Task { await paths.streamAbort(key) }
        }
    }

    func executeThenClose<Result: Sendable>(
        _ body: (inout ConduitEvents, ConduitWriter) async throws -> Result
    ) async throws -> Result {
        let events = self.events, paths = self.paths, key = self.key
        var iterator = ConduitEvents { try await events.next() }
        let writer = ConduitWriter { try await paths.streamWrite(key, $0) }
        do {
            let result = try await body(&iterator, writer)
            await paths.streamFinished(key)
            return result
        } catch {
            await paths.streamFinished(key)
            throw error
        }
    }
}
