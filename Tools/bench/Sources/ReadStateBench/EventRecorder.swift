import Foundation
import KithAPI
#if canImport(Glibc)
import Glibc
#endif

/// One agent's `events` stream, read on a thread of its own, which notes the arrival time of
/// every event as it reads it: the main thread may wake late, the timestamps are not affected.
final class EventRecorder: @unchecked Sendable {  // mutable state guarded by `condition`
    /// A `viewed` event as it arrived.
    struct Viewed {
        /// `monotonicNanos()` when its line was read.
        let at: UInt64
        let unread: Int?
        let by: String?
        let codeCount: Int
    }

    let name: String
    private let contact: String
    private let fd: Int32
    private let findings: Findings
    private let condition = NSCondition()
    private var firstViewed: [UInt64: Viewed] = [:]  // message code → the first viewed event naming it
    private var settled: [Viewed] = []               // viewed events that left `contact` with 0 unread
    private var messageEvents = 0
    private var pathEvents = 0
    private var ended = false

    /// Subscribes (`{"method":"events","params":{}}`), checks the `{"ok":true…}` answer, and starts reading.
    init(_ device: Device, contact: String, findings: Findings) throws {
        name = device.name
        self.contact = contact
        self.findings = findings
        fd = try UnixSocket.open(device.socket, receiveTimeout: 0)
        try UnixSocket.sendAll(fd, LocalAPIClient.line(EventsRequest()))
        var lines = LineReader(fd: fd)
        guard let first = try lines.next() else { throw BenchError("\(name): the agent closed the events stream") }
        _ = try LocalAPIClient.decode(first, as: EmptyResult.self, from: "\(name) events")
        let reader = lines
        Thread { [self] in
            var lines = reader
            readEvents(&lines)
        }.start()
    }

    deinit { close(fd) }

    /// How many `path` events (a path to another device changed) have arrived so far.
    var pathChanges: Int { condition.withLock { pathEvents } }

    /// True once the stream has ended (the agent stopped, or `stop` was called).
    var hasEnded: Bool { condition.withLock { ended } }

    /// Ends the stream; the reading thread then stops.
    func stop() { shutdown(fd, Int32(SHUT_RDWR)) }

    private func readEvents(_ lines: inout LineReader) {
        while let line = try? lines.next() {
            let at = monotonicNanos()
            guard let event = try? APICodec.event(from: line) else {
                findings.add("\(name): an events line that is not an event: \(String(decoding: line.prefix(200), as: UTF8.self))")
                continue
            }
            condition.lock()
            switch event.event {
            case .message:
                messageEvents += 1
            case .path:  // a path to another device changed (direct paths, issue 4)
                pathEvents += 1
            case .viewed:
                let viewed = Viewed(at: at, unread: event.unread, by: event.by, codeCount: event.codes?.count ?? 0)
                for code in event.codes ?? [] where firstViewed[code] == nil { firstViewed[code] = viewed }
                if event.contact == contact && event.unread == 0 { settled.append(viewed) }
            default:
                break
            }
            condition.broadcast()
            condition.unlock()
        }
        condition.lock()
        ended = true
        condition.broadcast()
        condition.unlock()
    }

    /// Blocks until a `viewed` event names `code`, or `timeout` seconds pass (nil).
    func waitForViewed(_ code: UInt64, timeout: Double) -> Viewed? {
        wait(timeout) { $0.firstViewed[code] }
    }

    /// Blocks until a `viewed` event read at or after `start` leaves the contact with nothing unread.
    func waitForSettled(after start: UInt64, timeout: Double) -> Viewed? {
        wait(timeout) { recorder in recorder.settled.first { $0.at >= start } }
    }

    /// Blocks until `count` `message` events have arrived (or `timeout` passes); returns how many did.
    func waitForMessages(_ count: Int, timeout: Double) -> Int {
        _ = wait(timeout) { $0.messageEvents >= count ? true : nil }
        return condition.withLock { messageEvents }
    }

    /// Waits on `condition` until `found` returns a value, the stream ends, or `timeout` passes.
    private func wait<T>(_ timeout: Double, _ found: (EventRecorder) -> T?) -> T? {
        let deadline = Date(timeIntervalSinceNow: timeout)
        condition.lock()
        defer { condition.unlock() }
        while true {
            if let value = found(self) { return value }
            if ended || !condition.wait(until: deadline) { return found(self) }
        }
    }
}
