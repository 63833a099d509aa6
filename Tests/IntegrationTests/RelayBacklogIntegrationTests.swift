import Foundation
import KithNet
import KithTestSupport
import KithWire
import NIOConcurrencyHelpers
import Testing

/// A device that comes back to more than a page of queued payloads gets every one, once, in commit
/// order: its session's outbox reads them back from the store a page (`RelayBacklog.queueLimit`,
/// 1024) at a time, and what is committed while it reads comes after what was waiting.
@Suite(.serialized) struct RelayBacklogIntegrationTests {
    @Test func payloadsOfSeveralPagesAndThoseSentMeanwhileArriveOnceInOrder() async throws {
        let server = try await ServerHarness.start()
        // Two senders (a sender may have 2,000 waiting): 2,600 payloads wait for the phone.
        guard let cast = try await QueuedRelayCast.start(on: server, senders: 2) else { return }
        let senders = cast.senders, phone = cast.phoneLogin.deviceID
        let waiting = 1_300, meanwhile = 100
        #expect(await Self.send(0..<waiting, from: senders, to: phone) == 0, "payloads not acknowledged")

        guard let back = try await cast.resumePhone(on: server) else { return }
        let live = Task { await Self.send(waiting..<(waiting + meanwhile), from: senders, to: phone) }
        var delivered: [[UInt8]] = []
        let expected = senders.count * (waiting + meanwhile)
        while delivered.count < expected {
            guard let relay = try? await back.nextRelay() else { break }
            delivered.append(relay.payload)
            try await back.send(.relayAck(.init(relayID: relay.relayID)))
        }
        #expect(await live.value == 0, "payloads sent meanwhile not acknowledged")
        #expect(delivered.count == expected, "\(delivered.count) of \(expected) delivered")
        #expect(Set(delivered).count == delivered.count, "\(delivered.count - Set(delivered).count) delivered twice")
        for index in senders.indices {
            #expect(cast.numbers(from: index, in: delivered) == Array(0..<(waiting + meanwhile)),
                    "sender \(index)'s payloads arrived out of order or with gaps")
        }
    }

    /// Each sender relays payloads `range` to `receiver`, one after another's Ack (payload: the
    /// sender's index, then the number); returns how many were not acknowledged.
    static func send(_ range: Range<Int>, from senders: [ClientConnection], to receiver: String) async -> Int {
        await withTaskGroup(of: Int.self) { group in
            for (index, sender) in senders.enumerated() {
                group.addTask {
                    var missed = 0
                    for n in range {
                        let payload = QueuedRelayCast.payload(sender: index, number: n)
                        let answer = try? await sender.request(.relaySend(.init(to: receiver, payload: payload)))
                        if answer?.message != .ack(.init()) { missed += 1 }
                    }
                    return missed
                }
            }
            return await group.reduce(0, +)
        }
    }
}
