import KithAPI
import Testing

/// A stalled transfer says what it waits for, and for whom, instead of a frozen rate.
@Suite struct TransferWaitTests {
    static func wait(_ state: String, out: Bool = true, online: Bool = true, stream: Bool = true, moving: Bool = false) -> String? {
        TransferWait.of(.init(state: state, outgoing: out, peer: "bob-MP-1", peerOnline: online, streamUp: stream, moving: moving))
    }

    @Test func anOfferWaitsForTheReceiversAnswer() {
        #expect(Self.wait("waiting") == "for bob-MP-1 to accept")
        #expect(Self.wait("waiting", out: false)?.hasPrefix("for you to accept") == true)
    }

    @Test func aStalledTransferWaitsForThePeerToComeOnline() {
        #expect(Self.wait("active", online: false, stream: false) == "for bob-MP-1 to come online")
        #expect(Self.wait("offering", online: false, stream: false) == "for bob-MP-1 to come online")
        #expect(Self.wait("active", out: false, online: false, stream: false) == "for bob-MP-1 to come online")
        #expect(Self.wait("active", online: true, stream: false) == "for a stream to bob-MP-1")
    }

    @Test func aMovingOrFinishedTransferWaitsForNothing() {
        #expect(Self.wait("active", moving: true) == nil)
        #expect(Self.wait("active", online: false, stream: true, moving: true) == nil)
        for state in ["complete", "rejected", "expired", "failed", "cancelled"] { #expect(Self.wait(state, online: false) == nil) }
    }

    @Test func aPausedTransferWaitsForRoom() {
        #expect(Self.wait("paused") == "for room on bob-MP-1's disk")
        #expect(Self.wait("paused", out: false) == "for room on this device's disk")
    }
}
