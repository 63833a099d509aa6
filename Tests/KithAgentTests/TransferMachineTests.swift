import Foundation
import KithCore
import KithWire
import Testing

/// Both sides of a transfer, pumped back to back (`TransferPump`): the rules of spec §File
/// transfer as the agent carries them out, without streams, disks or sleeping.
@Suite struct TransferMachineTests {
    /// Three chunks, a folder, an empty file, five chunks.
    static let files: [UInt32?] = [3, nil, 0, 5]

    @Test func aWholeTransferCompletesOnBothSides() {
        var pump = TransferPump(files: Self.files)
        pump.run()
        #expect(pump.sender.state == .complete && pump.receiver?.state == .complete)
        #expect(pump.published[.sender] == [.offering, .active, .complete])
        #expect(pump.published[.receiver] == [.active, .complete])
        #expect(pump.answers == [.accepted, .complete])
        #expect(pump.sender.progress.allSatisfy(\.complete) && pump.partialsDeleted && !pump.offerDue)
        #expect(pump.sender.finishedMillis == pump.now && pump.receiver?.finishedMillis == pump.now)
    }

    @Test func aDripFedTransferReportsEveryStepAndCompletes() {
        var pump = TransferPump(files: [40, 17])
        pump.step = 1
        pump.connect()
        pump.flow(steps: 10)
        #expect(pump.receiver?.progress[0].verifiedChunks == 10 && pump.sender.progress[0].verifiedChunks == 10)
        #expect(pump.persisted[.receiver] == 12, "the offer, the answer, then every step is durable before it is reported")
        #expect(pump.sender.state == .active && pump.persisted[.sender] == 2, "the sender writes only what matters")
        pump.flow()
        #expect(pump.sender.state == .complete && pump.receiver?.state == .complete)
        #expect(pump.published[.receiver] == [.active, .complete] && pump.ignored == 0)
    }

    /// Both agents die halfway; machines rebuilt from what they stored carry on from there.
    @Test func aTransferResumesAfterACrashFromWhatWasStored() throws {
        var pump = TransferPump(files: [30, 30])
        pump.step = 2
        pump.connect()
        pump.flow(steps: 20)  // file 0: 15 steps and its placing; file 1: 4 steps
        #expect(pump.receiver?.progress.map(\.verifiedChunks) == [30, 8])
        try pump.crash()
        #expect(pump.sender.state == .active && pump.receiver?.state == .active)
        #expect(pump.receiver?.progress.map(\.verifiedChunks) == [30, 8] && pump.receiver?.progress[0].complete == true)
        #expect(pump.sender.progress[0].complete, "a file in place is stored on the sender too")
        #expect(pump.offerDue, "the sender's run starts again")
        pump.connect()
        pump.flow(steps: 1)
        #expect(pump.receiver?.progress[1].verifiedChunks == 10, "data goes on from what the receiver holds")
        pump.run()
        #expect(pump.sender.state == .complete && pump.receiver?.state == .complete)
        #expect(pump.answers == [.accepted, .accepted, .complete])
    }

    @Test func aPolicyRejectsAndTheSenderStops() {
        var pump = TransferPump(files: Self.files, decision: .reject(reason: "this device does not accept files from x"))
        pump.run()
        #expect(pump.receiver?.state == .rejected && pump.sender.state == .rejected)
        #expect(pump.sender.reason == "this device does not accept files from x")
        #expect(pump.published[.receiver] == [.rejected] && !pump.offerDue && !pump.streamOpen)
    }

    @Test func theUserRejectsAnAskedOfferAndAnAcceptAfterIsIgnored() {
        var pump = TransferPump(files: Self.files, decision: .ask)
        pump.connect()
        #expect(pump.sender.state == .waiting && pump.receiver?.state == .waiting)
        pump.send(.reject, to: .receiver)
        #expect(pump.sender.state == .rejected && pump.sender.reason == "the receiver's user rejected it")
        let late = pump.send(.accept, to: .receiver)
        #expect(late == [.ignored] && pump.receiver?.state == .rejected)
    }

    @Test func anAcceptOnlyCountsWhileTheOfferWaits() {
        var pump = TransferPump(files: Self.files, decision: .ask)
        pump.connect()
        pump.send(.accept, to: .receiver)
        #expect(pump.sender.state == .active && pump.receiver?.state == .active)
        let again = pump.send(.accept, to: .receiver)
        #expect(again == [.ignored])
        pump.flow()
        #expect(pump.sender.state == .complete)
    }

    /// The receiver's timer, driven by a test clock: nothing before the deadline, both expired at it.
    @Test func anUnansweredOfferExpiresAtItsDeadline() {
        var pump = TransferPump(files: Self.files, decision: .ask, ttlSeconds: 60)
        let start = pump.now
        pump.connect()
        #expect(pump.expiryAt == start + 60_000)
        #expect(pump.sender.deadlineMillis == start + 60_000 + TransferMachine.senderGraceMillis)
        pump.now = start + 59_999  // the timer fired early (the clock went back): it is set again
        let early = pump.send(.tick, to: .receiver)
        #expect(early == [.scheduleExpiry(atMillis: start + 60_000)] && pump.receiver?.state == .waiting)
        pump.now = start + 60_000
        pump.send(.tick, to: .receiver)
        #expect(pump.receiver?.state == .expired && pump.sender.state == .expired)
        #expect(pump.sender.reason == "nobody answered the offer in time" && pump.answers == [.waiting, .expired])
        let late = pump.send(.accept, to: .receiver)
        #expect(late == [.ignored])
    }

    /// Without the receiver (gone, or its timer lost in a crash): each side expires by itself.
    @Test func eachSideExpiresAloneWhenTheOtherIsGone() throws {
        var pump = TransferPump(files: Self.files, decision: .ask, ttlSeconds: 60)
        let start = pump.now
        pump.connect()
        try pump.crash()
        #expect(pump.expiryAt == start + 60_000, "a waiting offer's timer is set again after a restart")
        pump.now = start + 60_000 + TransferMachine.senderGraceMillis - 1
        let notYet = pump.send(.tick, to: .sender)
        #expect(notYet == [] && pump.sender.state == .waiting)
        pump.now += 1
        let due = pump.send(.tick, to: .sender)
        #expect(due.contains(.stopData) && pump.sender.state == .expired)
        #expect(pump.receiver?.state == .waiting, "its timer has not fired")
        let offer = pump.send(.offer, to: .receiver)  // a late offer finds it past its deadline
        #expect(pump.receiver?.state == .expired && offer.last == .sendAnswer(.expired, reason: "nobody answered the offer in time"))
    }

    /// The sender's cancel goes to the receiver on the open stream: it ends there too, and its
    /// partial copies are deleted.
    @Test func aCancelBySenderReachesTheReceiverOnTheStream() {
        var pump = TransferPump(files: [30])
        pump.step = 5
        pump.connect()
        pump.flow(steps: 2)
        pump.send(.cancel(reason: "cancelled on this device"), to: .sender)
        #expect(pump.sender.state == .cancelled && !pump.streamOpen && !pump.offerDue)
        #expect(pump.receiver?.state == .cancelled && pump.receiver?.reason == "the sender cancelled: cancelled on this device")
        #expect(pump.partialsDeleted)
    }

    /// With no stream open, the sender's cancel reaches nobody: the receiver ends the transfer
    /// when the sender has been silent for the abandon limit, and deletes its partial copies.
    @Test func aCancelWithNoStreamReachesTheReceiverThroughItsSilence() {
        var pump = TransferPump(files: [30])
        pump.step = 5
        pump.connect()
        pump.flow(steps: 2)
        pump.disconnect()
        pump.send(.cancel(reason: "cancelled on this device"), to: .sender)
        #expect(pump.sender.state == .cancelled && pump.receiver?.state == .active)
        let limit: UInt64 = 7 * 24 * 3_600_000
        pump.now = pump.heardAt + limit
        let patient = pump.send(.silence(sinceMillis: pump.heardAt, limitMillis: limit), to: .receiver)
        #expect(patient == [] && pump.receiver?.state == .active)
        pump.now += 1
        pump.send(.silence(sinceMillis: pump.heardAt, limitMillis: limit), to: .receiver)
        #expect(pump.receiver?.state == .failed && pump.receiver?.reason == "the sender was not heard from for 168 h")
        #expect(pump.partialsDeleted && pump.sender.state == .cancelled)
    }

    @Test func aFailureAtTheSenderCancelsTheReceiver() {
        var pump = TransferPump(files: [30])
        pump.step = 5
        pump.connect()
        pump.flow(steps: 2)
        pump.send(.failed(reason: "a.txt changed while it was sent"), to: .sender)
        #expect(pump.sender.state == .failed && pump.receiver?.state == .cancelled && pump.partialsDeleted)
        #expect(pump.receiver?.reason == "the sender cancelled: a.txt changed while it was sent")
    }

    /// The receiver's cancel closes the stream; the sender offers again and is told it is over.
    @Test func aCancelByTheReceiverReachesTheSender() {
        var pump = TransferPump(files: [30])
        pump.step = 5
        pump.connect()
        pump.flow(steps: 2)
        pump.send(.cancel(reason: "alice-MP-2 left the account's roster"), to: .receiver)
        #expect(pump.receiver?.state == .cancelled && pump.partialsDeleted && !pump.streamOpen)
        #expect(pump.sender.state == .active && pump.sender.reason == "the stream closed" && pump.offerDue)
        pump.run()
        #expect(pump.sender.state == .failed)
        #expect(pump.sender.reason == "the receiver ended it: alice-MP-2 left the account's roster")
    }

    @Test func aFullDiskPausesBothSidesAndTheTransferResumesWhenThereIsRoom() {
        var pump = TransferPump(files: [20, 4])
        pump.step = 4
        pump.connect()
        pump.flow(steps: 2)
        pump.diskFull = true
        pump.send(.diskFull(reason: "no space left"), to: .receiver)  // a write failed
        #expect(pump.receiver?.state == .paused && pump.sender.state == .paused)
        #expect(pump.sender.reason == "the receiver paused: no space left" && pump.offerDue && !pump.streamOpen)
        pump.connect()  // the sender's next try: still no room
        #expect(pump.receiver?.state == .paused && pump.sender.reason == "the receiver paused: no space left")
        pump.diskFull = false
        pump.connect()
        #expect(pump.receiver?.progress[0].verifiedChunks == 8, "the partial copies stayed")
        pump.run()
        #expect(pump.sender.state == .complete && pump.receiver?.state == .complete)
        #expect(pump.published[.receiver] == [.active, .paused, .active, .complete])
        #expect(pump.published[.sender] == [.offering, .active, .paused, .active, .complete])
        #expect(pump.answers == [.accepted, .paused, .paused, .accepted, .complete])
    }

    static let everyEvent: [TransferMachine.Event] = [
        .restarted, .tick, .cancel(reason: "c"), .peerCancelled(reason: "p"), .failed(reason: "f"),
        .progress(file: 0, verifiedChunks: 1, complete: false), .progress(file: 0, verifiedChunks: 3, complete: true),
        .answer(.waiting, reason: nil), .answer(.accepted, reason: nil), .answer(.rejected, reason: "r"),
        .answer(.expired, reason: nil), .answer(.paused, reason: "p"), .answer(.complete, reason: nil),
        .answer(.unknown(9), reason: nil), .streamEnded(reason: "s"), .offer, .accept, .reject, .canWrite,
        .diskFull(reason: "d"), .cannotWrite(reason: "w"), .silence(sinceMillis: 0, limitMillis: 1),
    ]

    /// A final state stays final: no event changes it or anything else, and only a new offer
    /// still gets the final answer.
    @Test(arguments: TransferMachine.State.allCases.filter(\.isFinished))
    func aFinalStateStaysFinal(state: TransferMachine.State) {
        for direction in [TransferMachine.Direction.sending, .receiving] {
            let before = TransferMachine(direction: direction, state: state, reason: "why", ttlSeconds: 60,
                                         deadlineMillis: 5, finishedMillis: 7, progress: [.init(verifiedChunks: 2)])
            for event in Self.everyEvent {
                var machine = before
                let actions = machine.handle(event, now: 1_000_000)
                #expect(machine == before, "\(direction) \(state) changed on \(event)")
                if direction == .receiving && event == .offer {
                    #expect(actions == before.reply && !actions.contains(.persist), "the final answer, again")
                } else {
                    #expect(actions == [.ignored], "\(direction) \(state) acted on \(event): \(actions)")
                }
            }
        }
    }
}
