import Foundation
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
    private let startedAt: UInt64
    private let now: @Sendable () -> UInt64
    private let logger: Logger

    /// A new instance's id: random, 8 hex digits.
    static func newID() -> String { secureRandomBytes(4).map { String(format: "%02x", $0) }.joined() }

    init(id: String, store: any ServerStore, presence: Presence, address: String, now: @escaping @Sendable () -> UInt64,
         logger: Logger) {
        self.id = id
        self.store = store
        self.presence = presence
        self.address = address
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
    }
}
