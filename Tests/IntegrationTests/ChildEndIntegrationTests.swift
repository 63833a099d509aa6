import Foundation
import KithTestSupport
import Testing

/// A `kith` process that crashes starts Swift's backtracer in its process group, and the
/// backtracer holds the socket by which Foundation sees the process end. Killed mid-backtrace,
/// a backtracer waited on its dead parent for minutes, and the test's wait for the process with
/// it: once that held a whole CI run. `KithProcess.kill` ends the whole group.
@Suite(.fewAtATime)
struct ChildEndIntegrationTests {
    @Test func killingACrashedProcessEndsItsBacktracerToo() async throws {
        let server = try await ServerHarness.start(accounts: [:])
        let process = server.process
        let group = process.process.processIdentifier
        kill(group, SIGSEGV)
        let start = ContinuousClock.now
        while !process.stderr.contains("Backtracing"), ContinuousClock.now - start < .seconds(30) {
            try await Task.sleep(for: .milliseconds(5))
        }
        try #require(process.stderr.contains("Backtracing"), "the runtime started its backtracer")
        process.kill()
        #expect(!process.process.isRunning)
        #expect(Self.living(inGroup: group).isEmpty, "nothing of the crashed process's group lives on")
    }

    /// The processes of process group `group` that have not ended (zombies, ended but not yet
    /// reaped, do not count).
    static func living(inGroup group: pid_t) -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.filter { $0.allSatisfy(\.isNumber) }.compactMap { pid in
            // /proc/PID/stat: "pid (comm) state ppid pgrp ..."; comm may hold spaces, so split after its ")".
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return nil }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 2, fields[0] != "Z", pid_t(fields[2]) == group else { return nil }
            return String(stat[..<close]) + ")"
        }
    }
}
