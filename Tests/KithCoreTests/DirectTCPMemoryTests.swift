import KithCore
import Testing

/// A sender remembers the direct addresses whose TCP dial failed, so a push between devices behind
/// NATs does not wait for the dial's timeout every time before taking the UDP stream.
@Suite struct DirectTCPMemoryTests {
    @Test func anAddressWhoseDialFailedIsSkippedUntilItsRetryTime() {
        var memory = DirectTCPMemory()
        #expect(memory.shouldDial("100.64.2.2:4000", now: 1000))
        memory.dialFailed("100.64.2.2:4000", now: 1000)
        #expect(!memory.shouldDial("100.64.2.2:4000", now: 1001))
        #expect(!memory.shouldDial("100.64.2.2:4000", now: 1000 + DirectTCPMemory.retryAfter - 1))
        #expect(memory.shouldDial("100.64.2.2:4000", now: 1000 + DirectTCPMemory.retryAfter))
        #expect(memory.shouldDial("100.64.2.2:4001", now: 1001), "another address (or port) is dialled")
    }

    @Test func aDialThatWorksIsTriedAgainAtOnce() {
        var memory = DirectTCPMemory()
        memory.dialFailed("10.0.0.2:4000", now: 5)
        memory.dialSucceeded("10.0.0.2:4000")
        #expect(memory.shouldDial("10.0.0.2:4000", now: 6))
    }

    @Test func aClockThatWentBackDoesNotKeepAnAddressSkipped() {
        var memory = DirectTCPMemory()
        memory.dialFailed("10.0.0.2:4000", now: 50_000)
        #expect(memory.shouldDial("10.0.0.2:4000", now: 10))
    }

    @Test func theMemoryIsBoundedAndForgetsTheOldestFailureFirst() {
        var memory = DirectTCPMemory()
        for i in 0..<DirectTCPMemory.capacity { memory.dialFailed("10.0.0.\(i):1", now: UInt64(100 + i)) }
        memory.dialFailed("10.9.9.9:1", now: 500)
        #expect(memory.shouldDial("10.0.0.0:1", now: 501), "the oldest failure was dropped")
        #expect(!memory.shouldDial("10.0.0.1:1", now: 501))
        #expect(!memory.shouldDial("10.9.9.9:1", now: 501))
    }

    @Test func theDialWaitsTenRoundTripsBetween300MillisecondsAndTwoSeconds() {
        #expect(DirectTCPMemory.dialTimeoutMillis(rttMillis: nil) == 2000)
        #expect(DirectTCPMemory.dialTimeoutMillis(rttMillis: 0.2) == 300)
        #expect(DirectTCPMemory.dialTimeoutMillis(rttMillis: 45) == 450)
        #expect(DirectTCPMemory.dialTimeoutMillis(rttMillis: 900) == 2000)
        #expect(DirectTCPMemory.dialTimeoutMillis(rttMillis: .nan) == 2000)
    }
}
