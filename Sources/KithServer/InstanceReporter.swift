import Foundation
import KithCore
import KithCrypto
import KithStore
import Logging
import NIOCore

/// Says in the store, every few seconds, that this instance runs, where devices reach it and how
/// many device sessions it holds: what `kith server status` lists, for every instance on a
/// shared store (an instance that stops reporting — killed, cut off — drops out of the list).
final class InstanceReporter: Sendable {
    let id: String
    private let store: any ServerStore
    private let presence: Presence
    private let address: String
    /// Filled from the store after each report when instances share it; nil on a store of one.
    private let directory: InstanceDirectory?
    private let liveWithinMillis: UInt64
    private let startedAt: UInt64
    private let now: @Sendable () -> UInt64
    private let logger: Logger

    /// A new instance's id: random, 8 hex digits.
    static func newID() -> String { secureRandomBytes(4).map { String(format: "%02x", $0) }.joined() }

    init(id: String, store: any ServerStore, presence: Presence, address: String, directory: InstanceDirectory?,
         liveWithinMillis: UInt64, now: @escaping @Sendable () -> UInt64, logger: Logger) {
        self.id = id
        self.store = store
        self.presence = presence
        self.address = address
        self.directory = directory
        self.liveWithinMillis = liveWithinMillis
        self.now = now
        startedAt = now()
        self.logger = logger
    }

    /// Reports now and then every `interval`, until the task is cancelled.
    func start(on loop: any EventLoop, every interval: TimeAmount) -> RepeatedTask {
        loop.scheduleRepeatedTask(initialDelay: .zero, delay: interval) { _ in
            // The store call waits for its commit: not on the event loop.
            Task { await self.report() }
        }
    }

    private func report() async {
        let report = InstanceReport(id: id, address: address, startedAtMillis: startedAt, seenAtMillis: now(),
                                    sessions: await presence.sessionCount())
        do {
            try store.recordInstance(report)
        } catch {
            logger.warning("cannot report this instance in the store: \(error)")
        }
        guard let directory else { return }
        do {
            let seenSince = report.seenAtMillis > liveWithinMillis ? report.seenAtMillis - liveWithinMillis : 0
            let reachable = ServerConfiguration.reachable(try store.instances(seenSince: seenSince))
            directory.update(reachable.prefix(16).map(\.description))
        } catch {
            logger.warning("cannot read the instances alive from the store: \(error)")
        }
    }
}
