import KithStore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import PostgresNIO

/// Hears, on a connection of its own, which receivers' payloads any server instance committed
/// (`LISTEN kith_relay`; every commit of payloads sends `NOTIFY kith_relay, RECEIVER` for each
/// receiver, delivered by PostgreSQL only once that commit is done), and the word the
/// other instances tell (`InstanceWord`: `LISTEN` on each of its channels). A relay
/// notification says only "read this queue": the queue's ids are the sequence, and a reader reads after the last id it
/// has, so a notification lost or late costs a delay, never an item. When the connection is cut
/// (the database restarted, an idle connection killed) it comes back with backoff, and then says
/// "read every queue" (nil), since what was committed meanwhile was not heard.
final class StoreWatch: Sendable {
    static let channel = "kith_relay"

    private let connections: PostgresConnections
    /// This instance: its own announcements are not passed on.
    private let instance: String
    private let relays: @Sendable ([String]?) -> Void
    private let heard: @Sendable (InstanceWord) -> Void
    private let logger: Logger
    private struct State {
        var connection: PostgresConnection?
        var stopped = false
        var failures = 0
    }
    private let state = NIOLockedValueBox(State())

    /// `relays` and `heard` as `SharedServerStore.watch` says.
    init(connections: PostgresConnections, instance: String, logger: Logger, relays: @escaping @Sendable ([String]?) -> Void,
         heard: @escaping @Sendable (InstanceWord) -> Void) {
        self.connections = connections
        self.instance = instance
        self.logger = logger
        self.relays = relays
        self.heard = heard
    }

    func start() { listen(missedSome: false) }

    func stop() {
        let connection = state.withLockedValue { state in
            state.stopped = true
            return state.connection
        }
        connection?.close().whenComplete { _ in }
    }

    private func listen(missedSome: Bool) {
        guard !state.withLockedValue({ $0.stopped }) else { return }
        let relays = relays, heard = heard, instance = instance
        connections.connect().flatMap { connection -> EventLoopFuture<PostgresConnection> in
            connection.addListener(channel: Self.channel) { _, notification in relays([notification.payload]) }
            for channel in InstanceWord.channels {
                connection.addListener(channel: channel) { _, notification in
                    guard let (by, word) = InstanceWord.parse(channel: channel, payload: notification.payload), by != instance else { return }
                    heard(word)
                }
            }
            let listens = ([Self.channel] + InstanceWord.channels).map { "LISTEN \($0)" }
            return listens.dropFirst().reduce(connection.query(PostgresQuery(unsafeSQL: listens[0]), logger: self.logger)) { done, listen in
                done.flatMap { _ in connection.query(PostgresQuery(unsafeSQL: listen), logger: self.logger) }
            }.map { _ in connection }
        }.whenComplete { result in
            switch result {
            case .success(let connection):
                let stopped = self.state.withLockedValue { state in
                    state.connection = connection
                    state.failures = 0
                    return state.stopped
                }
                if stopped { connection.close().whenComplete { _ in }; return }
                if missedSome {
                    self.logger.notice("listening for relays again: every online receiver reads its queue")
                    relays(nil)
                }
                connection.closeFuture.whenComplete { _ in self.again() }
            case .failure(let error):
                self.logger.warning("cannot listen for relays: \(PostgresStoreError.describe(error))")
                self.again()
            }
        }
    }

    /// The connection is gone (or never came): listen again after a backoff of 0.25 s doubling to 8 s.
    private func again() {
        let failures = state.withLockedValue { state -> Int? in
            guard !state.stopped else { return nil }
            state.connection = nil
            state.failures += 1
            return state.failures
        }
        guard let failures else { return }
        let delay = TimeAmount.milliseconds(min(8000, 250 << min(failures - 1, 5)))
        connections.eventLoop.scheduleTask(in: delay) { self.listen(missedSome: true) }
    }
}
