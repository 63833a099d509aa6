import KithCore
import Testing

/// The counts behind the caps on connections that have not logged in, and the log that says a
/// flood's cause once per interval.
@Suite struct ConnectionAdmissionTests {
    @Test func capsPerAddressAndInAllAndFreesOnLeave() {
        var admission = ConnectionAdmission(limits: .init(deadlineSeconds: 5, perAddress: 2, total: 3))
        #expect(admission.arrive(from: "a") == .admit)
        #expect(admission.arrive(from: "a") == .admit)
        #expect(admission.arrive(from: "a") == .refuse(.perAddress))
        #expect(admission.arrive(from: "b") == .admit)
        #expect(admission.arrive(from: "c") == .refuse(.total))
        admission.leave(from: "a")
        #expect(admission.arrive(from: "c") == .admit)
        #expect(admission.arrive(from: "a") == .refuse(.total))
        #expect(admission.total == 3 && admission.waiting == ["a": 1, "b": 1, "c": 1])
    }

    @Test func leavingTwiceOrUnknownChangesNothing() {
        var admission = ConnectionAdmission(limits: .init(perAddress: 2, total: 3))
        #expect(admission.arrive(from: "a") == .admit)
        admission.leave(from: "a")
        admission.leave(from: "a")
        admission.leave(from: "z")
        #expect(admission.total == 0 && admission.waiting.isEmpty)
    }

    @Test func oneLinePerCausePerInterval() {
        var log = ThrottledLog(intervalMillis: 1000)
        #expect(log.line("flood", now: 0) == "flood")
        #expect(log.line("flood", now: 10) == nil)
        #expect(log.line("other", now: 20) == "other")
        #expect(log.line("flood", now: 999) == nil)
        #expect(log.line("flood", now: 1000) == "flood (and 2 more since the last such line)")
        #expect(log.line("flood", now: 2500) == "flood")
    }
}
