import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Everything a run leaves behind — the child processes (server, agents) and the work
/// directory — and the one place that removes it. It runs at exit (normal or after a thrown
/// error: `main.swift` calls `exit`), and on SIGINT, SIGTERM and SIGHUP. The children's pids are
/// also listed in WORK/children.pids so that `Tools/bench/readstate` can kill them should the
/// bench itself crash.
final class Leftovers: @unchecked Sendable {  // guarded by `lock`
    static let shared = Leftovers()

    private let lock = NSLock()
    private var children: [Process] = []
    private var directory: URL?
    private var removeDirectory = true
    private var signalSources: [any DispatchSourceSignal] = []

    /// Installs the exit and signal handlers. Call once, before the first child starts.
    func install(directory: URL, keep: Bool) {
        lock.withLock {
            self.directory = directory
            removeDirectory = !keep
        }
        atexit { Leftovers.shared.removeAll() }
        for number in [SIGINT, SIGTERM, SIGHUP] {
            signal(number, SIG_IGN)  // delivered to the dispatch source instead
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                say("signal \(number): stopping the server and the agents")
                exit(128 + number)  // runs the atexit handler above
            }
            source.resume()
            lock.withLock { signalSources.append(source) }
        }
    }

    /// Remembers a started child, so that it is killed whatever way the bench ends.
    func adopt(_ process: Process) {
        lock.withLock {
            children.append(process)
            guard let directory else { return }
            let pids = children.map { "\($0.processIdentifier)\n" }.joined()
            try? pids.write(to: directory.appendingPathComponent("children.pids"), atomically: true, encoding: .utf8)
        }
    }

    /// Stops every child (SIGTERM, then SIGKILL after 2 s) and removes the work directory.
    /// Safe to call more than once.
    func removeAll() {
        let (processes, directory, remove) = lock.withLock {
            defer { children = [] }
            return (children, self.directory, removeDirectory)
        }
        for process in processes where process.isRunning { process.terminate() }
        let start = monotonicNanos()
        while processes.contains(where: \.isRunning) && secondsSince(start) < 2 { usleep(20_000) }
        for process in processes where process.isRunning { kill(process.processIdentifier, SIGKILL) }
        guard let directory else { return }
        if remove {
            try? FileManager.default.removeItem(at: directory)
        } else {
            say("kept the work directory (KITH_BENCH_KEEP): \(directory.path)")
        }
    }
}
