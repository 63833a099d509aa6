#if canImport(Glibc)
import Glibc
#endif
import KithAPI
@testable import kith
import Testing

/// What `kith push` waits on while it follows a transfer: the first event about that transfer,
/// past lines that are not events and events about other things; nothing when none comes in the
/// window, or when the agent goes away.
@Suite struct EventSubscriptionTests {
    static func line(_ event: AgentEvent) -> String { String(decoding: APICodec.encode(event), as: UTF8.self) }
    static let mine = AgentEvent(event: .transfer, from: "alice-PC-1", transfer: "aa11", state: "complete")
    static let other = AgentEvent(event: .transfer, from: "alice-PC-1", transfer: "bb22", state: "active")

    @Test func itWakesOnTheTransfersOwnEvent() throws {
        let (ours, theirs) = try LineReaderTests.socketPair()
        defer { close(theirs) }
        let subscription = EventSubscription(fd: ours)
        try LineReaderTests.write("{\"result\":{}}\n" + Self.line(Self.other) + Self.line(Self.mine), to: theirs)
        let event = subscription.first(within: .seconds(10)) { $0.event == .transfer && $0.transfer == "aa11" }
        #expect(event?.state == "complete")
    }

    @Test func otherEventsLetTheWindowPass() throws {
        let (ours, theirs) = try LineReaderTests.socketPair()
        defer { close(theirs) }
        let subscription = EventSubscription(fd: ours)
        try LineReaderTests.write(Self.line(Self.other), to: theirs)
        #expect(subscription.first(within: .milliseconds(50)) { $0.transfer == "aa11" } == nil)
        #expect(!subscription.ended)
    }

    @Test func anAgentThatGoesAwayEndsTheWait() throws {
        let (ours, theirs) = try LineReaderTests.socketPair()
        let subscription = EventSubscription(fd: ours)
        close(theirs)
        #expect(subscription.first(within: .seconds(10)) { _ in true } == nil)
        #expect(subscription.ended)
    }
}
