import Foundation
import KithAPI

/// Latencies of marking single messages read on one device until its siblings show it.
struct ReadLatency {
    /// `read` sent on the reader → the `viewed` event for that code read on both siblings.
    var both = Samples()
    /// The same, per sibling (in the order given).
    var perSibling: [Samples]
    /// The `read` call itself on the reader: request sent → response read.
    var call = Samples()
}

/// For each code in turn: sends `read` for it on `reader` and waits until every sibling's event
/// stream has a `viewed` event naming it, before the next read. All messages are unread before.
func measureReadLatency(codes: [UInt64], reader: LocalAPIClient, readerID: String, siblings: [EventRecorder],
                        findings: Findings) throws -> ReadLatency {
    var result = ReadLatency(perSibling: siblings.map { _ in Samples() })
    var missing = 0, wrongUnread = 0, wrongBy = 0
    for (index, code) in codes.enumerated() {
        let line = LocalAPIClient.line(ReadRequest(code: code))
        let start = monotonicNanos()
        let response = try reader.exchange(line)
        result.call.append(monotonicNanos() - start)
        let read = try LocalAPIClient.decode(response, as: ReadResult.self, from: "\(reader.name) read \(code)")
        if read.newlyViewed != 1 { findings.add("read \(code) on \(reader.name) turned \(read.newlyViewed) messages viewed, not 1") }

        var latest: UInt64 = 0, arrived = 0
        for (sibling, recorder) in siblings.enumerated() {
            guard let viewed = recorder.waitForViewed(code, timeout: 5) else {
                if recorder.hasEnded { throw BenchError("the events stream of \(recorder.name) ended: did its agent stop?") }
                missing += 1
                findings.add("no viewed event for message \(code) on \(recorder.name) within 5 s")
                if missing >= 10 { throw BenchError("10 viewed events missing; giving up (see the findings above)") }
                continue
            }
            let latency = viewed.at > start ? viewed.at - start : 0
            result.perSibling[sibling].append(latency)
            latest = max(latest, latency)
            arrived += 1
            // Messages are read oldest first, so a sibling has this many left afterwards.
            if viewed.unread != codes.count - index - 1 { wrongUnread += 1 }
            if viewed.by != readerID { wrongBy += 1 }
        }
        if arrived == siblings.count { result.both.append(latest) }
        if (index + 1) % 250 == 0 { say("  read \(index + 1)/\(codes.count): p50 so far \(ms(result.both.p50))") }
    }
    if wrongUnread > 0 { findings.add("\(wrongUnread) viewed events carried an unexpected unread count") }
    if wrongBy > 0 { findings.add("\(wrongBy) viewed events did not name \(readerID) as the device it was viewed on") }
    return result
}
