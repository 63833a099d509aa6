import KithCore
import Testing

/// Which session a device sends on (spec §Path choice, Sessions), with plain values for the
/// sessions and addresses.
struct SessionTableTests {
    typealias Table = SessionTable<String, String>

    @Test func anAnsweredSessionCarriesNothingUntilItsFirstPacket() {
        var table = Table()
        let accepted = table.acceptInitiation(from: "b", timestamp: 10)
        #expect(accepted)
        table.addAnswered(7, peer: "b", session: "s7", address: "10.0.0.2:1", now: 0)
        #expect(table.sendTarget(for: "b") == nil)
        let first = table.received(on: 7, from: "10.0.0.2:1", now: 5, keepCurrent: { _ in false })
        #expect(first?.peer == "b" && first?.moved == true)
        #expect(table.sendTarget(for: "b")?.index == 7)
        let again = table.received(on: 7, from: "10.0.0.2:1", now: 6, keepCurrent: { _ in false })
        let unknown = table.received(on: 99, from: "x", now: 6, keepCurrent: { _ in false })
        #expect(again?.moved == false && unknown == nil)
    }

    /// The path question ("keep the current path?") is asked about the session's peer, and only
    /// for the packet that confirms an answered session: not on every datagram after it.
    @Test func keepCurrentIsAskedOnlyOnConfirmationAndAboutTheSessionsPeer() {
        var table = Table()
        table.addAnswered(3, peer: "b", session: "s3", address: "10.0.0.2:1", now: 0)
        table.addAnswered(4, peer: "b", session: "s4", address: "10.0.0.3:1", now: 0)
        var asked: [String] = []
        _ = table.received(on: 3, from: "10.0.0.2:1", now: 1, keepCurrent: { asked.append($0); return false })
        _ = table.received(on: 3, from: "10.0.0.2:1", now: 2, keepCurrent: { asked.append($0); return false })
        #expect(asked == ["b"])
        let second = table.received(on: 4, from: "10.0.0.3:1", now: 3, keepCurrent: { asked.append($0); return true })
        #expect(asked == ["b", "b"])
        #expect(second?.moved == false && table.sendTarget(for: "b")?.index == 3, "kept the current path when asked to")
    }

    @Test func aReplayedOrOlderInitiationIsNotAnswered() {
        var table = Table()
        let answers = [("b", 10), ("b", 10), ("b", 9), ("b", 11), ("c", 1)].map { table.acceptInitiation(from: $0.0, timestamp: UInt64($0.1)) }
        #expect(answers == [true, false, false, true, true])  // per peer
    }

    /// Both sides probe at once: each completes one handshake as initiator and answers the
    /// other's. Each sends on its own completed session; both keep receiving on the answered one.
    @Test func crossingHandshakesLeaveBothSessionsUsable() {
        var alice = Table()
        _ = alice.acceptInitiation(from: "bob", timestamp: 1)
        alice.addAnswered(2, peer: "bob", session: "answered", address: "b", now: 0)
        let completed = alice.addCompleted(1, peer: "bob", session: "mine", address: "b", now: 1, keepCurrent: false)
        #expect(completed)
        #expect(alice.sendTarget(for: "bob")?.index == 1)
        // bob sends on the session alice answered: it confirms it, and alice moves there (newest).
        let confirmed = alice.received(on: 2, from: "b", now: 2, keepCurrent: { _ in false })
        #expect(confirmed?.moved == true)
        #expect(alice.entries.keys.sorted() == [1, 2])  // both kept for receiving
    }

    @Test func aWorkingLANPathIsKeptAgainstALaterNATPath() {
        var table = Table()
        let lan = table.addCompleted(1, peer: "b", session: "lan", address: "10.0.0.2:1", now: 0, keepCurrent: false)
        let nat = table.addCompleted(2, peer: "b", session: "nat", address: "100.64.0.2:9", now: 1, keepCurrent: true)
        #expect(lan && !nat)
        #expect(table.sendTarget(for: "b")?.index == 1)
    }

    @Test func aRoamingPeerIsFollowedAndForgettingDropsEverything() {
        var table = Table()
        table.addCompleted(1, peer: "b", session: "s", address: "old:1", now: 0, keepCurrent: false)
        _ = table.received(on: 1, from: "new:2", now: 1, keepCurrent: { _ in false })
        #expect(table.sendTarget(for: "b")?.address == "new:2")
        table.stopSending(to: "b")
        #expect(table.sendTarget(for: "b") == nil)
        table.forget("b")
        #expect(table.entries.isEmpty)
    }

    @Test func onlyTheNewestSessionsAreKeptBesidesTheOneSentOn() {
        var table = Table()
        table.addCompleted(100, peer: "b", session: "sent on", address: "a", now: 0, keepCurrent: false)
        for i in 1...6 { table.addAnswered(UInt32(i), peer: "b", session: "s\(i)", address: "a", now: UInt64(i)) }
        #expect(table.entries.keys.sorted() == [3, 4, 5, 6, 100])
        let kept = table.withSession(6) { $0 }, dropped = table.withSession(1) { $0 }
        #expect(kept == "s6" && dropped == nil)
    }
}
