import Testing
@testable import KithCore

/// The pacing deadline as a shell uses it (UDPStreams.swift): it may ask for `nextDeadline` at
/// any time without polling; the answer must not move later, or a timer that re-arms on it
/// never fires (the stall this test was written for: 5 s until a keepalive polled).
@Suite struct StreamPacingTests {
    @Test func aPacingDeadlineDoesNotMoveWhenAskedAgainWithoutPolling() throws {
        var a = ReliableStream(streamID: 2), b = ReliableStream(streamID: 2)
        // One round trip of 10 ms gives the sender an RTT, so pacing is on.
        try a.send([UInt8](repeating: 1, count: 2000))
        for case .segment(let segment) in a.poll(now: 0) { _ = try b.receiveSegment(segment, now: 5) }
        let pending = b.pendingAck(now: 5)
        let ack = try #require(pending)
        a.receiveAck(ack, now: 10)
        #expect(a.sender.rtt.smoothed != nil)
        // Far more than the pacing burst: the sender runs out of tokens.
        for _ in 0..<40 { try a.send([UInt8](repeating: 2, count: 60_000)) }
        var now: UInt64 = 10
        var sent = a.poll(now: now).count
        while sent > 0, a.nextDeadline(now: now).map({ $0 > now }) != true {
            sent = a.poll(now: now).count
        }
        let deadline = try #require(a.nextDeadline(now: now))
        #expect(deadline > now, "pacing should hold the rest back")
        // Asked again later, without a poll in between: the same deadline (or an earlier one), never a later one.
        for later in [now + 1, deadline, deadline + 3] {
            let again = try #require(a.nextDeadline(now: later))
            #expect(again <= deadline, "asked at \(later): deadline moved from \(deadline) to \(again)")
        }
        now = deadline
        #expect(a.poll(now: now).contains { if case .segment = $0 { true } else { false } }, "nothing went out at the pacing deadline")
    }
}
