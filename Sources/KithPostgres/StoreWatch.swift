import KithStore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import PostgresNIO

/// Hears, on a connection of its own, which receivers' payloads any server instance committed
/// (`LISTEN kith_relay`; every commit of payloads sends `NOTIFY kith_relay, RECEIVER` for each
/// receiver, delivered by PostgreSQL only once that commit is done), and which accounts other
/// instances announced changed (`LISTEN kith_account`, payload `INSTANCE ACCOUNT`), and the
/// transit offers they made (`LISTEN kith_transit`, payload as `TransitNotice` writes it). A relay
/// notification says only "read this queue": the queue's ids are the sequence, and a reader reads after the last id it
/// has, so a notification lost or late costs a delay, never an item. When the connection is cut
/// (the database restarted, an idle connection killed) it comes back with backoff, and then says
/// "read every queue" (nil), since what was committed meanwhile was not heard.
final class StoreWatch: Sendable {
    static let channel = "kith_relay"
    static let accountChannel = "kith_account"
    static let transitChannel = "kith_transit"

    private let connections: PostgresConnections
    /// This instance: its own announcements are not passed on.
    private let instance: String
    private let relays: @Sendable ([String]?) -> Void
    private let accounts: @Sendable (String) -> Void
    private let transits: @Sendable (TransitNotice) -> Void
    private let logger: Logger
    private struct State {
        var connection: PostgresConnection?
        var stopped = false
        var failures = 0
    }
    private let state = NIOLockedValueBox(State())

    /// `relays`, `accounts` and `transits` as `SharedServerStore.watch` says.
    init(connections: PostgresConnections, instance: String, logger: Logger, relays: @escaping @Sendable ([String]?) -> Void,
         accounts: @escaping @Sendable (String) -> Void, transits: @escaping @Sendable (TransitNotice) -> Void) {
        self.connections = connections
        self.instance = instance
        self.logger = logger
        self.relays = relays
        self.accounts = accounts
        self.transits = transits
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
        let relays = relays, accounts = accounts, transits = transits, instance = instance
        connections.connect().flatMap { connection -> EventLoopFuture<PostgresConnection> in
            connection.addListener(channel: Self.channel) { _, notification in relays([notification.payload]) }
            connection.addListener(channel: Self.accountChannel) { _, notification in
                let parts = notification.payload.split(separator: " ", maxSplits: 1).map(String.init)
                guard parts.count == 2, parts[0] != instance else { return }
                accounts(parts[1])
            }
            connection.addListener(channel: Self.transitChannel) { _, notification in
                guard let (by, notice) = TransitNotice.parse(notification.payload), by != instance else { return }
                transits(notice)
            }
            return connection.query("LISTEN kith_relay", logger: self.logger).flatMap { _ in
                connection.query("LISTEN kith_account", logger: self.logger)
            }.flatMap { _ in
                connection.query("LISTEN kith_transit", logger: self.logger)
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
