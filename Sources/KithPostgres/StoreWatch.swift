import KithStore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import PostgresNIO

/// Hears, on a connection of its own, what payloads any server instance committed
/// (`LISTEN kith_relays`: every commit of payloads sends a `RelayNotice` per receiver,
/// delivered by PostgreSQL only once that commit is done, in commit order), and the word the
/// other instances tell (`InstanceWord`: `LISTEN` on each of its channels). A notice carries
/// the payloads when they fit, and says where they follow on in the receiver's queue; the queue's
/// ids are the sequence, and a reader that cannot follow on reads after the last id it has, so a
/// notification lost or late costs a read or a delay, never an item. When the connection is cut
/// (the database restarted, an idle connection killed) it comes back with backoff, and then says
/// "read every queue" (nil), since what was committed meanwhile was not heard.
///
/// An instance from before notices (`kith_relay`, payload the receiver alone) is heard too, as
/// "read this queue"; it does not hear this one's notices, so during a rolling upgrade its
/// devices get payloads the newer instances commit at their next read (spec §Relay, *Older
/// instances*).
final class StoreWatch: Sendable {
    static let channel = "kith_relays"
    /// Where instances from before `RelayNotice` name receivers to read.
    static let olderChannel = "kith_relay"

    private let connections: PostgresConnections
    /// This instance: its own announcements are not passed on.
    private let instance: String
    private let relays: @Sendable (RelayNotice?) -> Void
    private let heard: @Sendable (InstanceWord) -> Void
    private let logger: Logger
    private struct State {
        var connection: PostgresConnection?
        var stopped = false
        var failures = 0
    }
    private let state = NIOLockedValueBox(State())

    /// Whether the listening connection is up.
    var isListening: Bool { state.withLockedValue { $0.connection != nil } }

    /// `relays` and `heard` as `SharedServerStore.watch` says.
    init(connections: PostgresConnections, instance: String, logger: Logger, relays: @escaping @Sendable (RelayNotice?) -> Void,
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
        let relays = relays, heard = heard, instance = instance, logger = logger
        connections.connect().flatMap { connection -> EventLoopFuture<PostgresConnection> in
            for channel in [Self.channel, Self.olderChannel] {
                connection.addListener(channel: channel) { _, notification in
                    if let notice = RelayNotice.parse(notification.payload) {
                        relays(notice)
                    } else {
                        logger.warning("a relay notice not understood: \(notification.payload.prefix(80))")
                    }
                }
            }
            for channel in InstanceWord.channels {
                connection.addListener(channel: channel) { _, notification in
                    guard let (by, word) = InstanceWord.parse(channel: channel, payload: notification.payload), by != instance else { return }
                    heard(word)
                }
            }
            let listens = ([Self.channel, Self.olderChannel] + InstanceWord.channels).map { "LISTEN \($0)" }
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
