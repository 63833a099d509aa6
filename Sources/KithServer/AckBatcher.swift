import KithStore
import Logging

/// Deletes acknowledged relay payloads in batches, one transaction per batch, so that the hot
/// path of the relay pays only the fsync of its commit group (`RelayCommitter`), not one more per
/// message. A crash before a batch commits means the payload is delivered again, which receivers
/// handle (spec §Relay).
actor AckBatcher {
    private let store: any ServerStore
    private let logger: Logger
    private var pending: [(id: Int64, to: String)] = []
    private var scheduled = false
    static let delay: Duration = .milliseconds(20)
    static let maxBatch = 512

    init(store: any ServerStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    func acknowledged(id: Int64, to: String) {
        pending.append((id, to))
        if pending.count >= Self.maxBatch {
            flush()
        } else if !scheduled {
            scheduled = true
            Task {
                try? await Task.sleep(for: Self.delay)
                self.flush()
            }
        }
    }

    /// Commits what is pending now: before a session's first delivery, so a device that
    /// acknowledged something and reconnected at once does not get it again.
    func flushNow() { flush() }

    private func flush() {
        scheduled = false
        guard !pending.isEmpty else { return }
        let batch = pending
        pending = []
        do { try store.deleteRelays(batch) } catch { logger.error("cannot delete acknowledged relays: \(error)") }
    }
}
