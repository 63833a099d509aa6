import KithWire

/// Where one file transfer stands on one device, sender or receiver, decided from events alone
/// (spec §File transfer). Every change of a transfer's state has its rule here, once, where a
/// test can drive both sides back to back; time comes in with each event. The agent keeps the
/// machine's facts in the transfer's record, so a machine rebuilt from a stored record carries
/// on where the old one stopped (a crash, a restart).
///
/// Two rules hold for every event: a final state stays final (a late answer must not undo a
/// cancel; only a new offer still gets its answer), and an offer expires only while unanswered.
///
/// The actions come in the order they are to be carried out. The record's (`persist`,
/// `forgetChunkProofs`, `publish`, `scheduleExpiry`) are the agent's actor's, at once; the rest
/// are the stream's: the driver of the transfer's stream carries them out, or, for an event
/// that came from elsewhere (the user, a timer, the roster), the actor does what it can (wake a
/// stream waiting for the user, close streams, delete partial copies).
public struct TransferMachine: Sendable, Equatable, Codable {
    public enum Direction: String, Sendable, Codable {
        case sending, receiving
    }

    /// Agents store these by name (`"waiting"`) in their records: the names must not change.
    public enum State: String, Sendable, Codable, CaseIterable {
        /// Sender: looking for a stream to the receiver, or sending the offer.
        case offering
        /// Either side: the receiver's user is asked.
        case waiting
        /// Data flows (or will as soon as a stream is up again).
        case active
        /// The receiver cannot write (disk full); retried.
        case paused
        case complete, rejected, expired, failed, cancelled

        public var isFinished: Bool { [.complete, .rejected, .expired, .failed, .cancelled].contains(self) }
    }

    public enum Event: Sendable, Equatable {
        /// The agent started again with this transfer unfinished in its store.
        case restarted
        /// The clock moved: an unanswered offer expires at its deadline.
        case tick
        /// This device ends the transfer for good: its user cancels an outgoing one, or the
        /// peer left the account's roster.
        case cancel(reason: String)
        /// The peer ended it for good (`FileCancel`).
        case peerCancelled(reason: String?)
        /// A fault on this side ends it for good (a source file changed, data broke a rule).
        case failed(reason: String)
        /// A file's verified chunks, and whether it is in place: the receiver's own durable
        /// count, or what the sender hears of it (`FileProgress`).
        case progress(file: Int, verifiedChunks: UInt32, complete: Bool)
        /// Sender: the receiver's `FileAnswer`.
        case answer(FileAnswerState, reason: String?)
        /// Sender: a stream ended with the transfer unfinished; `reason` is why, if worth telling.
        case streamEnded(reason: String?)
        /// Receiver: the offer came (again) on a new stream.
        case offer
        /// Receiver: its user answered.
        case accept, reject
        /// Receiver: the partial copies can be written (there is room): data may come.
        case canWrite
        /// Receiver: no room left for the partial copies.
        case diskFull(reason: String)
        /// Receiver: the partial copies cannot be written for another reason.
        case cannotWrite(reason: String)
        /// Receiver: nothing came from the sender since `sinceMillis`, and no stream is open.
        case silence(sinceMillis: UInt64, limitMillis: UInt64)
    }

    public enum Action: Sendable, Equatable {
        /// Write the record to the store before anything acts on the change.
        case persist
        /// Delete the chunk proofs kept for a resume: the transfer is over.
        case forgetChunkProofs
        /// Tell the local API's listeners that the transfer is now in this state.
        case publish(State)
        /// Send `tick` at this time (milliseconds).
        case scheduleExpiry(atMillis: UInt64)
        /// Sender: find a stream to the receiver and offer on it (again, after a backoff, when
        /// one broke).
        case sendOffer
        /// Receiver: answer the offer; with `accepted` go the verified counts of the partial copies.
        case sendAnswer(FileAnswerState, reason: String?)
        /// Receiver: tell the sender how far a file is (`FileProgress`).
        case sendProgress(file: Int, verifiedChunks: UInt32, complete: Bool)
        /// End the transfer for the peer (`FileCancel`).
        case sendCancel(reason: String?)
        /// Sender: send the data the receiver does not hold. Receiver: take data.
        case startData
        /// Sender: close this stream; the transfer goes on (an offer again later).
        case closeStream
        /// The transfer is over on this side: close its stream, send and take no more data.
        case stopData
        /// Receiver: delete the partial copies (files already in place stay).
        case deletePartials
        /// The event does not apply: the transfer is over, or not in a state it concerns.
        case ignored
    }

    /// Grace the sender gives an offer beyond its time to live, for clocks and slow links.
    public static let senderGraceMillis: UInt64 = 30_000
    static let noAnswer = "nobody answered the offer in time"

    public let direction: Direction
    public private(set) var state: State
    /// Why it is in its state, for people (a final one, a pause, the last failed try).
    public private(set) var reason: String?
    public let ttlSeconds: UInt32
    /// Until when an unanswered offer waits (receiver: from its arrival; sender: plus a grace).
    public private(set) var deadlineMillis: UInt64?
    public private(set) var finishedMillis: UInt64?
    /// Per entry of the offer: the chunks the receiver holds, and whether it is in place.
    public private(set) var progress: [TransferReceiver.FileProgress]

    /// A machine from stored facts (a record written by an earlier run).
    public init(direction: Direction, state: State, reason: String?, ttlSeconds: UInt32, deadlineMillis: UInt64?,
                finishedMillis: UInt64?, progress: [TransferReceiver.FileProgress]) {
        self.direction = direction
        self.state = state
        self.reason = reason
        self.ttlSeconds = ttlSeconds
        self.deadlineMillis = deadlineMillis
        self.finishedMillis = finishedMillis
        self.progress = progress
    }

    /// A new outgoing transfer of entries with this progress (folders complete, files at 0).
    public static func send(ttlSeconds: UInt32, progress: [TransferReceiver.FileProgress]) -> (TransferMachine, [Action]) {
        let machine = TransferMachine(direction: .sending, state: .offering, reason: nil, ttlSeconds: ttlSeconds,
                                      deadlineMillis: nil, finishedMillis: nil, progress: progress)
        return (machine, [.persist, .publish(.offering), .sendOffer])
    }

    /// A new incoming offer, as the receive policy decided (its folder is the agent's business).
    public static func receive(ttlSeconds: UInt32, progress: [TransferReceiver.FileProgress],
                               decision: ReceivePolicy.Decision, now: UInt64) -> (TransferMachine, [Action]) {
        var machine = TransferMachine(direction: .receiving, state: .active, reason: nil, ttlSeconds: ttlSeconds,
                                      deadlineMillis: nil, finishedMillis: nil, progress: progress)
        var actions: [Action] = []
        switch decision {
        case .land: break
        case .ask:
            machine.state = .waiting
            let deadline = now + UInt64(ttlSeconds) * 1000
            machine.deadlineMillis = deadline
            actions = [.scheduleExpiry(atMillis: deadline)]
        case .reject(let reason):
            machine.state = .rejected
            machine.reason = reason
            machine.finishedMillis = now
        }
        return (machine, [.persist, .publish(machine.state)] + actions + machine.reply)
    }

    /// Receiver: what an offer gets now, from the state alone.
    public var reply: [Action] {
        guard direction == .receiving else { return [] }
        switch state {
        case .waiting: return [.sendAnswer(.waiting, reason: nil)]
        case .rejected: return [.sendAnswer(.rejected, reason: reason)]
        case .expired: return [.sendAnswer(.expired, reason: reason)]
        case .complete: return [.sendAnswer(.complete, reason: nil)]
        case .failed, .cancelled: return [.sendCancel(reason: reason)]
        case .active, .paused, .offering: return [.startData]
        }
    }

    /// Whether an offer still waits for its answer (only then can it expire).
    var isUnanswered: Bool { state == .offering || state == .waiting }

    public mutating func handle(_ event: Event, now: UInt64) -> [Action] {
        if state.isFinished { return event == .offer && direction == .receiving ? reply : [.ignored] }
        switch (direction, event) {
        case (.sending, .restarted):
            return [.sendOffer]
        case (.receiving, .restarted):
            guard state == .waiting, let deadline = deadlineMillis else { return [] }
            return [.scheduleExpiry(atMillis: deadline)]
        case (_, .tick):
            return tick(now: now)
        case (.sending, .cancel(let reason)):
            // The receiver is told on the stream, if one is open, so it does not wait for more.
            return move(to: .cancelled, reason: reason, now: now) + [.sendCancel(reason: reason), .stopData]
        case (.receiving, .cancel(let reason)):
            // The sender learns it from the answer to its next offer (`reply`).
            return move(to: .cancelled, reason: reason, now: now) + [.stopData, .deletePartials]
        case (.sending, .peerCancelled(let reason)):
            return move(to: .failed, reason: "the receiver ended it: \(reason ?? "no reason given")", now: now) + [.stopData]
        case (.receiving, .peerCancelled(let reason)):
            return move(to: .cancelled, reason: "the sender cancelled: \(reason ?? "no reason given")", now: now)
                + [.deletePartials, .stopData]
        case (.sending, .failed(let reason)):
            return move(to: .failed, reason: reason, now: now) + [.sendCancel(reason: reason), .stopData]
        case (.receiving, .failed(let reason)):
            return move(to: .failed, reason: reason, now: now) + [.deletePartials, .sendCancel(reason: reason), .stopData]
        case (_, .progress(let file, let chunks, let complete)):
            return progressed(file, chunks, complete, now: now)
        case (.sending, .answer(let answer, let reason)):
            return answered(answer, reason: reason, now: now)
        case (.sending, .streamEnded(let why)):
            guard let why, state != .paused else { return [.sendOffer] }  // a pause keeps its reason
            reason = why
            return [.persist, .sendOffer]
        case (.receiving, .offer):
            guard isUnanswered, let deadline = deadlineMillis, now >= deadline else { return reply }
            return move(to: .expired, reason: Self.noAnswer, now: now) + reply
        case (.receiving, .accept):
            guard state == .waiting else { return [.ignored] }
            return move(to: .active, reason: nil, now: now) + [.startData]
        case (.receiving, .reject):
            let asked = state == .waiting, why = "the receiver's user rejected it"
            return move(to: .rejected, reason: why, now: now)
                + (asked ? [.sendAnswer(.rejected, reason: why)] : []) + [.stopData, .deletePartials]
        case (.receiving, .canWrite):
            guard state == .active || state == .paused else { return [.ignored] }
            return move(to: .active, reason: nil, now: now) + [.sendAnswer(.accepted, reason: nil)]
        case (.receiving, .diskFull(let reason)):
            guard state == .active || state == .paused else { return [.ignored] }
            return move(to: .paused, reason: reason, now: now) + [.sendAnswer(.paused, reason: reason)]
        case (.receiving, .cannotWrite(let reason)):
            return move(to: .failed, reason: reason, now: now)
                + [.sendAnswer(.rejected, reason: "the receiver cannot write: \(reason)")]
        case (.receiving, .silence(let since, let limit)):
            guard state != .waiting, now > since + limit else { return [] }  // waiting is the user's silence
            return move(to: .failed, reason: "the sender was not heard from for \(limit / 3_600_000) h", now: now)
                + [.deletePartials]
        case (.sending, .offer), (.sending, .accept), (.sending, .reject), (.sending, .canWrite), (.sending, .diskFull),
             (.sending, .cannotWrite), (.sending, .silence), (.receiving, .answer), (.receiving, .streamEnded):
            return [.ignored]
        }
    }

    /// An unanswered offer past its deadline expires; the receiver's timer fired early if the
    /// clock went back, and is set again.
    private mutating func tick(now: UInt64) -> [Action] {
        guard isUnanswered, let deadline = deadlineMillis else { return [] }
        guard now >= deadline else { return direction == .receiving ? [.scheduleExpiry(atMillis: deadline)] : [] }
        switch direction {
        case .sending: return move(to: .expired, reason: "the receiver did not answer in time", now: now) + [.stopData]
        case .receiving: return move(to: .expired, reason: Self.noAnswer, now: now) + [.sendAnswer(.expired, reason: Self.noAnswer)]
        }
    }

    private mutating func progressed(_ file: Int, _ chunks: UInt32, _ complete: Bool, now: UInt64) -> [Action] {
        guard progress.indices.contains(file) else { return [.ignored] }
        progress[file].verifiedChunks = chunks
        if complete { progress[file].complete = true }
        // The sender keeps the receiver's counts for the rate it shows; only a file in place is worth a write.
        guard direction == .receiving else { return complete ? [.persist] : [] }
        let report = Action.sendProgress(file: file, verifiedChunks: chunks, complete: complete)
        guard progress.allSatisfy(\.complete) else { return [.persist, report] }
        return move(to: .complete, reason: nil, now: now) + [report, .deletePartials, .sendAnswer(.complete, reason: nil)]
    }

    private mutating func answered(_ answer: FileAnswerState, reason: String?, now: UInt64) -> [Action] {
        switch answer {
        case .waiting:
            deadlineMillis = deadlineMillis ?? now + UInt64(ttlSeconds) * 1000 + Self.senderGraceMillis
            return move(to: .waiting, reason: nil, now: now)
        case .accepted:
            deadlineMillis = nil
            return move(to: .active, reason: nil, now: now) + [.startData]
        case .rejected:
            return move(to: .rejected, reason: reason ?? "the receiver rejected it", now: now) + [.stopData]
        case .expired:
            return move(to: .expired, reason: reason ?? Self.noAnswer, now: now) + [.stopData]
        case .paused:
            return move(to: .paused, reason: "the receiver paused: " + (reason ?? "it cannot write"), now: now) + [.closeStream]
        case .complete:
            for index in progress.indices { progress[index].complete = true }
            return move(to: .complete, reason: nil, now: now) + [.stopData]
        case .unknown(let value):
            if state != .paused { self.reason = "the receiver answered with unknown state \(value)" }
            return [.persist, .closeStream]
        }
    }

    /// Enters `new` (or stays in it with a new reason): persist, then what a final state and a
    /// change of state bring.
    private mutating func move(to new: State, reason: String?, now: UInt64) -> [Action] {
        let before = state
        state = new
        self.reason = reason
        var actions: [Action] = [.persist]
        if new.isFinished {
            finishedMillis = finishedMillis ?? now
            actions.append(.forgetChunkProofs)
        }
        if new != before { actions.append(.publish(new)) }
        return actions
    }
}
