import KithCore
import KithStore
import KithWire
import Testing
@testable import KithServer

/// The event loop answers a logged-in device's pings, relays and acks only while the session's
/// task has nothing in hand, so no request overtakes an earlier one.
@Suite struct SessionLaneTests {
    static let laptop = DeviceRecord(id: "alice-PC-1", account: "alice", terminalType: .pc, name: "laptop",
                                     key: [UInt8](repeating: 1, count: 32), clientVersion: "t", addresses: [],
                                     createdAtMillis: 0, lastSeenMillis: 0)

    @Test func beforeALoginEverythingGoesToTheTask() {
        var lane = SessionLane()
        #expect(lane.route(.ping) == .task)
        #expect(lane.route(.login) == .task)
        lane.finished(device: nil)
        lane.finished(device: Self.laptop)
        #expect(lane.inTask == 0)
        #expect(lane.route(.ping) == .loop)
        #expect(lane.route(.relaySend) == .loop)
        #expect(lane.route(.relayAck) == .loop)
    }

    @Test func whileTheTaskIsBusyTheLoopTakesNothing() {
        var lane = SessionLane()
        _ = lane.route(.login)
        lane.finished(device: Self.laptop)
        #expect(lane.route(.rosterPublish) == .task)
        #expect(lane.route(.relaySend) == .task, "a relay after a roster waits for it: it may be what approves the sender")
        #expect(lane.route(.ping) == .task)
        lane.finished(device: Self.laptop)
        lane.finished(device: Self.laptop)
        #expect(lane.route(.relaySend) == .task, "one still in hand")
        lane.finished(device: Self.laptop)
        lane.finished(device: Self.laptop)
        #expect(lane.route(.relaySend) == .loop)
    }

    @Test func aRelayTheLoopHandsOnMakesTheTaskBusy() {
        var lane = SessionLane()
        _ = lane.route(.resume)
        lane.finished(device: Self.laptop)
        #expect(lane.route(.relaySend) == .loop)
        lane.handOn()
        #expect(lane.route(.ping) == .task)
        lane.finished(device: Self.laptop)
        lane.finished(device: Self.laptop)
        #expect(lane.route(.ping) == .loop)
    }

    @Test func afterALogoutEverythingGoesToTheTaskAgain() {
        var lane = SessionLane()
        _ = lane.route(.login)
        lane.finished(device: Self.laptop)
        #expect(lane.route(.logout) == .task)
        lane.finished(device: nil)
        #expect(lane.route(.ping) == .task)
    }
}
