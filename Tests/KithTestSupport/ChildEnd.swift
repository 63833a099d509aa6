import Foundation

/// Ending a child process for good, and saying so when it crashed.
///
/// Foundation learns that a child ended when a socket the child inherited reaches end of file,
/// and every process holding that socket counts: a `kith` process that crashes starts Swift's
/// backtracer, which inherits it, and `waitUntilExit` then waits for the backtracer too. Once a
/// backtracer outlived its killed parent by minutes and held a test, then the whole CI run. So
/// a kill goes to the child's process group (Foundation starts every child as a group leader,
/// and the backtracer stays in its group), and the wait for the end has a limit.
public enum ChildEnd {
    /// SIGKILL to `pid` and everything in its process group.
    public static func kill(_ pid: pid_t) {
        guard pid > 0 else { return }  // -0 would be the test run's own group
        if Foundation.kill(-pid, SIGKILL) != 0 { Foundation.kill(pid, SIGKILL) }
    }

    /// Waits up to `timeout` seconds for Foundation to see `process` end; false if it did not.
    @discardableResult
    public static func wait(for process: Process, timeout: TimeInterval = 10) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        var pause: useconds_t = 1_000
        while process.isRunning && Date() < deadline {
            usleep(pause)
            pause = min(pause * 2, 20_000)
        }
        return !process.isRunning
    }

    /// The backtrace in a child's stderr, from the line that says it crashed (at most `lines` lines), if it crashed.
    public static func crash(in stderr: String, lines: Int = 60) -> String? {
        let all = stderr.split(separator: "\n", omittingEmptySubsequences: false)
        guard let start = all.firstIndex(where: { $0.contains("Program crashed") }) else { return nil }
        return all[start...].prefix(lines).joined(separator: "\n")
    }

    /// Prints `what` crashed, with its backtrace, to the test run's stderr: a crash while a test
    /// shuts its processes down fails no expectation, and would otherwise go unseen.
    public static func reportCrash(of what: String, stderr: String) {
        guard let backtrace = crash(in: stderr) else { return }
        FileHandle.standardError.write(Data("kith process crashed: \(what)\n\(backtrace)\n".utf8))
    }
}
