import Foundation
import KithCore
import KithWire
import Testing

/// A sender's and a receiver's `TransferMachine` back to back, wired as the agents' stream
/// drivers wire them: what one side sends arrives as the other's event, a closed stream is the
/// sender's `streamEnded`, one clock for both. No sockets; the sender's run offers again only
/// when a test calls `connect` (its backoff), and data moves only when it calls `flow`.
struct TransferPump {
    typealias Action = TransferMachine.Action
    enum Side: Hashable { case sender, receiver }

    var sender: TransferMachine
    var receiver: TransferMachine?
    var now: UInt64 = 1_000_000
    let decision: ReceivePolicy.Decision
    let ttlSeconds: UInt32
    /// Per entry of the offer, its chunk count; nil: a folder.
    let chunks: [UInt32?]
    /// Chunks one step of `flow` verifies.
    var step: UInt32 = .max
    /// The receiver's disk has no room.
    var diskFull = false

    /// What each side last wrote to its store, as its agent finds it after a crash.
    private(set) var stored: [Side: Data] = [:]
    private(set) var persisted: [Side: Int] = [:]
    private(set) var published: [Side: [TransferMachine.State]] = [:]
    /// The answers the sender got, in order.
    private(set) var answers: [FileAnswerState] = []
    private(set) var ignored = 0
    /// The sender's run wants a stream; one is open; data flows on it.
    private(set) var offerDue = false
    private(set) var streamOpen = false
    private(set) var flowing = false
    /// The receiver's expiry timer, its partial copies gone, when it last heard from the sender.
    private(set) var expiryAt: UInt64?
    private(set) var partialsDeleted = false
    private(set) var heardAt: UInt64 = 0

    init(files chunks: [UInt32?], decision: ReceivePolicy.Decision = .land(folder: nil), ttlSeconds: UInt32 = 600) {
        self.chunks = chunks
        self.decision = decision
        self.ttlSeconds = ttlSeconds
        let (machine, actions) = TransferMachine.send(ttlSeconds: ttlSeconds, progress: Self.fresh(chunks))
        sender = machine
        perform(actions, of: .sender)
    }

    static func fresh(_ chunks: [UInt32?]) -> [TransferReceiver.FileProgress] { chunks.map { .init(complete: $0 == nil) } }

    /// One event to one side; its actions are carried out (and the other side's, in turn).
    @discardableResult
    mutating func send(_ event: TransferMachine.Event, to side: Side) -> [Action] {
        let actions: [Action]
        switch side {
        case .sender: actions = sender.handle(event, now: now)
        case .receiver:
            guard receiver != nil else { return [] }
            actions = receiver!.handle(event, now: now)
        }
        perform(actions, of: side)
        return actions
    }

    /// The sender's run finds a stream and offers on it (the receiver's machine is born with the first).
    mutating func connect() {
        guard offerDue else { return }
        offerDue = false
        streamOpen = true
        if receiver == nil {
            let (machine, actions) = TransferMachine.receive(ttlSeconds: ttlSeconds, progress: Self.fresh(chunks),
                                                             decision: decision, now: now)
            receiver = machine
            perform(actions, of: .receiver)
        } else {
            send(.offer, to: .receiver)
        }
    }

    /// Data moves, `step` chunks at a time (then the file is placed), while it flows, for at most `limit` steps.
    mutating func flow(steps limit: Int = .max) {
        var steps = 0
        while flowing, steps < limit, let progress = receiver?.progress, let file = progress.indices.first(where: { !progress[$0].complete }) {
            let total = chunks[file] ?? 0, held = progress[file].verifiedChunks
            let next = total - held <= step ? total : held + step
            send(.progress(file: file, verifiedChunks: next, complete: held == total), to: .receiver)
            steps += 1
        }
    }

    /// Offers and data until the sender's run stops (at most `streams` streams).
    mutating func run(streams: Int = 10) {
        for _ in 0..<streams {
            connect()
            flow()
            if !offerDue { return }
        }
    }

    /// Both agents die and start again from what they stored; the stream is gone.
    mutating func crash() throws {
        sender = try JSONDecoder().decode(TransferMachine.self, from: stored[.sender] ?? Data())
        receiver = try stored[.receiver].map { try JSONDecoder().decode(TransferMachine.self, from: $0) }
        streamOpen = false
        flowing = false
        offerDue = false
        expiryAt = nil
        send(.restarted, to: .sender)
        send(.restarted, to: .receiver)
    }

    private mutating func perform(_ actions: [Action], of side: Side) {
        for action in actions {
            switch (side, action) {
            case (_, .persist):
                stored[side] = try? JSONEncoder().encode(side == .sender ? sender : receiver)
                persisted[side, default: 0] += 1
                if side == .receiver { heardAt = now }
            case (_, .publish(let state)): published[side, default: []].append(state)
            case (_, .forgetChunkProofs): continue
            case (_, .ignored): ignored += 1
            case (.sender, .sendOffer): offerDue = true
            case (.sender, .startData): flowing = true
            case (.sender, .sendCancel(let reason)):
                if streamOpen { send(.peerCancelled(reason: reason), to: .receiver) }  // said on the stream, if any
            case (.sender, .stopData): closeStream()
            case (.sender, .closeStream):
                closeStream()
                send(.streamEnded(reason: nil), to: .sender)
            case (.receiver, .sendAnswer(let state, let reason)):
                answers.append(state)
                send(.answer(state, reason: reason), to: .sender)
            case (.receiver, .sendProgress(let file, let chunks, let complete)):
                send(.progress(file: file, verifiedChunks: chunks, complete: complete), to: .sender)
            case (.receiver, .sendCancel(let reason)): send(.peerCancelled(reason: reason), to: .sender)
            case (.receiver, .startData): send(diskFull ? .diskFull(reason: "no space left") : .canWrite, to: .receiver)
            case (.receiver, .stopData):
                guard streamOpen else { continue }
                closeStream()
                send(.streamEnded(reason: "the stream closed"), to: .sender)
            case (.receiver, .deletePartials): partialsDeleted = true
            case (.receiver, .scheduleExpiry(let at)): expiryAt = at
            default: Issue.record("the \(side) cannot carry out \(action)")
            }
        }
    }

    /// The stream drops (a network cut): neither side is told until it next tries.
    mutating func disconnect() { closeStream() }

    private mutating func closeStream() {
        streamOpen = false
        flowing = false
    }
}
