import KithStore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Folds the store's write-ahead log into its file every `interval`, on a thread of its own
/// (`ServerStore.checkpointInBackground`): the relay's group commits then only append to the log
/// and fsync it, and none of them waits for a checkpoint's copy and fsync of the database file.
final class BackgroundCheckpoints: Sendable {
    static let interval: TimeAmount = .milliseconds(100)

    private let thread = NIOThreadPool(numberOfThreads: 1)
    private let running = NIOLockedValueBox(false)
    private let timer: NIOLockedValueBox<RepeatedTask?> = NIOLockedValueBox(nil)

    init(store: any ServerStore, on eventLoop: any EventLoop, logger: Logger) {
        thread.start()
        let thread = thread, running = running
        let task = eventLoop.scheduleRepeatedTask(initialDelay: Self.interval, delay: Self.interval) { _ in
            // One at a time: a slow checkpoint is not queued behind by more of them.
            guard running.withLockedValue({ busy in defer { busy = true }; return !busy }) else { return }
            thread.submit { _ in
                do { try store.checkpointInBackground() } catch { logger.debug("background checkpoint: \(error)") }
                running.withLockedValue { $0 = false }
            }
        }
        timer.withLockedValue { $0 = task }
    }

    func shutdown() async {
        timer.withLockedValue { $0?.cancel() }
        try? await thread.shutdownGracefully()
    }
}
