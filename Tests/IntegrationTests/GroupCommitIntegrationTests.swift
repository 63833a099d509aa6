import Foundation
import KithNet
import KithTestSupport
import KithWire
import NIOConcurrencyHelpers
import Testing

/// Relayed payloads are committed in groups (`RelayCommitter`); an acknowledgement still means
/// "on disk". Four devices send as fast as the server answers, the server is killed (SIGKILL) in
/// the middle, and after the restart the receiver gets every payload a sender saw acknowledged,
/// and none twice.
@Suite(.serialized) struct GroupCommitIntegrationTests {
    @Test func everyAcknowledgedPayloadOfABurstSurvivesAKill() async throws {
        try await burstSurvivesAKill(store: nil)
    }

    /// The same on a PostgreSQL store: its commit is PostgreSQL's, the acknowledgement still follows it.
    @Test(.enabled(if: PostgresCluster.isInstalled, "needs PostgreSQL (/usr/lib/postgresql): run Tools/bootstrap"))
    func everyAcknowledgedPayloadOfABurstSurvivesAKillOnPostgreSQL() async throws {
        try await burstSurvivesAKill(store: try PostgresCluster.shared().database())
    }

    private func burstSurvivesAKill(store: String?) async throws {
        let server = try await ServerHarness.start(store: store)
        guard let cast = try await QueuedRelayCast.start(on: server, senders: 4) else { return }
        let connections = cast.senders, phone = cast.phoneLogin.deviceID
        let acknowledged = NIOLockedValueBox<Set<[UInt8]>>([])
        let perSender = 3000
        let burst = Task {
            await withTaskGroup(of: Void.self) { group in
                for (index, connection) in connections.enumerated() {
                    group.addTask {
                        for n in 0..<perSender {
                            let payload = QueuedRelayCast.payload(sender: index, number: n)
                            guard let answer = try? await connection.request(.relaySend(.init(to: phone, payload: payload))),
                                  answer.message == .ack(.init()) else { return }
                            _ = acknowledged.withLockedValue { $0.insert(payload) }
                        }
                    }
                }
            }
        }
        // Kill it in the middle of the burst.
        let deadline = ContinuousClock.now + .seconds(60)
        while acknowledged.withLockedValue({ $0.count }) < 400 && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
        server.stop()
        await burst.value
        let sure = acknowledged.withLockedValue { $0 }
        #expect(sure.count >= 400 && sure.count < connections.count * perSender, "the kill came mid-burst: \(sure.count) acknowledged")

        try await server.startAgain()
        guard let back = try await cast.resumePhone(on: server) else { return }
        var delivered: [[UInt8]] = []
        // Everything acknowledged, then whatever else was committed before the kill, until it is quiet.
        while true {
            let timeout: Duration = Set(delivered).isSuperset(of: sure) ? .seconds(2) : .seconds(30)
            guard let relay = try? await back.next(timeout: timeout, { if case .relayDeliver(let d) = $0 { d } else { nil } }) else { break }
            delivered.append(relay.payload)
            try await back.send(.relayAck(.init(relayID: relay.relayID)))
        }
        let missing = sure.subtracting(delivered)
        #expect(missing.isEmpty, "\(missing.count) acknowledged payloads were lost")
        #expect(Set(delivered).count == delivered.count, "\(delivered.count - Set(delivered).count) delivered twice")
        // In commit order, across the pages the receiver's outbox reads back from the store: each
        // sender's payloads (it sent one after another's Ack) arrive in the order it sent them.
        for index in connections.indices {
            let numbers = cast.numbers(from: index, in: delivered)
            #expect(zip(numbers, numbers.dropFirst()).allSatisfy(<), "sender \(index)'s payloads out of order")
        }
        print("group commit kill (\(store == nil ? "SQLite" : "PostgreSQL")): \(sure.count) acknowledged before the kill, \(delivered.count) delivered after the restart")
    }
}
