import Foundation

/// The test run's last resort against a test that never ends. A hung test used to hold the run
/// until CI's limit with nothing printed to say which it was. Here a test that has run past
/// `limit` is named on stderr with the processes it started, and those are killed (a test
/// blocked on one of them then fails, and the run goes on); should it still not end a minute
/// later, the run prints every process and every test in flight and exits non-zero.
///
/// Tests come in through `watch` (the integration suites' scope trait calls it); the `kith`
/// processes they start say so with `started`/`stopped`.
public enum HangWatch {
    /// How long one test may run: `KITH_TEST_HANG_SECONDS`, else seven minutes (the slowest test
    /// takes about two on a loaded two-core machine).
    public static let limit: TimeInterval = ProcessInfo.processInfo.environment["KITH_TEST_HANG_SECONDS"]
        .flatMap(TimeInterval.init) ?? 420
    /// How long a test may go on after its processes were killed before the run ends.
    static let grace: TimeInterval = 60

    /// The test the current task runs for, as `watch` named it.
    @TaskLocal public static var test: String?

    /// Runs `body` as the test `name`, watched.
    public static func watch(_ name: String, _ body: () async throws -> Void) async throws {
        let id = state.withLock { state in
            state.next += 1
            state.tests[state.next] = Running(name: name, since: Date())
            return state.next
        }
        _ = startThread
        defer { state.withLock { _ = $0.tests.removeValue(forKey: id) } }
        try await $test.withValue(name) { try await body() }
    }

    /// A process the current test started (`what`: its command line).
    /// `errors`: its stderr, whose last lines a report shows.
    public static func started(_ pid: pid_t, _ what: String, errors: URL? = nil) {
        state.withLock { $0.processes[pid] = (test, what, errors) }
    }

    public static func stopped(_ pid: pid_t) {
        state.withLock { _ = $0.processes.removeValue(forKey: pid) }
    }

    // MARK: - The watching thread

    private struct Running {
        let name: String
        let since: Date
        var struck: Date?
    }

    private struct State {
        var next = 0
        var tests: [Int: Running] = [:]
        var processes: [pid_t: (test: String?, what: String, errors: URL?)] = [:]
    }

    private static let state = Locked(State())

    private static let startThread: Void = {
        let thread = Thread { while true { sleep(5); check(now: Date()) } }
        thread.name = "kith-hang-watch"
        thread.start()
    }()

    private static func check(now: Date) {
        var report: [String] = []
        var endRun = false
        // Decided under the lock; the kills and the reading of logs come after it, so that no
        // test waits on the lock meanwhile.
        var toKill: [(pid: pid_t, what: String, errors: URL?)] = []
        state.withLock { state in
            for (id, running) in state.tests {
                if let struck = running.struck {
                    if now.timeIntervalSince(struck) > grace { endRun = true }
                    continue
                }
                guard now.timeIntervalSince(running.since) > limit else { continue }
                state.tests[id]?.struck = now
                let own = state.processes.filter { $0.value.test == running.name }
                report.append("hang watch: \(running.name) has run for \(Int(now.timeIntervalSince(running.since))) s "
                              + "(limit \(Int(limit)) s); " + (own.isEmpty ? "it started no kith process" : "killing the kith processes it started:"))
                toKill += own.map { ($0.key, $0.value.what, $0.value.errors) }
            }
            if endRun {
                report.append("hang watch: a test went on \(Int(grace)) s after its processes were killed; the run ends here. In flight:")
                report += state.tests.values.map { "  \($0.name), for \(Int(now.timeIntervalSince($0.since))) s" }
            }
        }
        for process in toKill {
            report.append("  \(process.pid) \(process.what)")
            ChildEnd.kill(process.pid)
            report += lastLines(of: process.errors).map { "    | \($0)" }
        }
        if endRun, let ps = try? Program.run("ps", ["-eo", "pid,ppid,stat,etime,args", "--forest"], timeout: 10) {
            // Every process but the kernel's own threads (their command is in brackets).
            report += ps.stdout.split(separator: "\n").filter { !$0.contains(" [") && !$0.contains("\\_ [") }.map(String.init)
        }
        guard !report.isEmpty else { return }
        FileHandle.standardError.write(Data((report.joined(separator: "\n") + "\n").utf8))
        if endRun { exit(1) }
    }
}

extension HangWatch {
    /// The end of a killed process's stderr (its backtrace, if it crashed): what it was doing.
    static func lastLines(of errors: URL?, count: Int = 20) -> [String] {
        // The last 64 KiB: an agent's log may be long, and a backtrace fits.
        guard let errors, let handle = try? FileHandle(forReadingFrom: errors) else { return [] }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        try? handle.seek(toOffset: size > 65_536 ? size - 65_536 : 0)
        let text = String(decoding: (try? handle.readToEnd()) ?? Data(), as: UTF8.self)
        if let crash = ChildEnd.crash(in: text) { return crash.split(separator: "\n").map(String.init) }
        return text.split(separator: "\n").suffix(count).map { String($0.prefix(300)) }
    }
}

/// A value behind a lock.
final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()

    init(_ value: Value) { self.value = value }

    func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
