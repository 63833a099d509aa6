import Dispatch
import Foundation

/// SIGTERM (systemd, `kill`) and SIGINT (Ctrl-C) end the agent and the server cleanly: `stop` runs
/// once, on the first of them, and the process exits 0 when it returns. A second signal while
/// stopping exits at once. Without this, the default action ends the process mid-write.
enum StopSignals {
    /// Keeps the dispatch sources alive for the process's lifetime.
    nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []

    static func install(_ stop: @escaping @Sendable (String) async -> Void) {
        let stopping = Flag()
        for (number, name) in [(SIGTERM, "SIGTERM"), (SIGINT, "SIGINT")] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                guard stopping.setOnce() else { exit(1) }
                Task {
                    await stop(name)
                    exit(0)
                }
            }
            source.resume()
            sources.append(source)
        }
    }

    private final class Flag: @unchecked Sendable {
        private let lock = NSLock()
        private var set = false
        /// True the first time only.
        func setOnce() -> Bool { lock.withLock { defer { set = true }; return !set } }
    }
}
