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
    /// Held for the whole of `removeAll`, so that an exit racing a signal waits for the cleanup.
    private let removing = NSLock()
    private var children: [Process] = []
    private var interrupted = false
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
            source.setEventHandler { [self] in
                say("signal \(number): stopping the server and the agents")
                lock.withLock { interrupted = true }
                // Clean up here, then leave without exit(): the main thread may be calling exit()
                // already (its requests fail as the agents stop), and two exits must not race.
                removeAll()
                _exit(128 + number)
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

    /// True once a signal asked the bench to stop (errors after it are the stop's doing).
    var isInterrupted: Bool { lock.withLock { interrupted } }

    /// Stops every child (SIGTERM, then SIGKILL after 2 s) and removes the work directory.
    /// Safe to call more than once, and from several threads: later calls wait for the first.
    func removeAll() {
        removing.lock()
        defer { removing.unlock() }
        let (processes, directory, remove) = lock.withLock {
            defer { children = [] }
            return (children, self.directory, removeDirectory)
        }
        for process in processes where process.isRunning { process.terminate() }
        let start = monotonicNanos()
        while processes.contains(where: \.isRunning) && secondsSince(start) < 2 { usleep(20_000) }
        for process in processes where process.isRunning { kill(process.processIdentifier, SIGKILL) }
        guard let directory, FileManager.default.fileExists(atPath: directory.path) else { return }
        if remove {
            try? FileManager.default.removeItem(at: directory)
        } else {
            say("kept the work directory (KITH_BENCH_KEEP): \(directory.path)")
        }
    }
}
