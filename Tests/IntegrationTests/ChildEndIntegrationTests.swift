#if os(Linux)
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
        // A stand-in for swift-backtrace that never finishes, as the real one did once its
        // parent was killed: the runtime starts it the same way, in the group, with the socket.
        let directory = temporaryDirectory("child-end")
        let backtracer = directory.appendingPathComponent("slow-backtracer")
        try Data("#!/bin/sh\nexec sleep 600\n".utf8).write(to: backtracer)
        chmod(backtracer.path, 0o755)
        let process = try KithProcess(["server", "--data", directory.appendingPathComponent("server").path, "--listen", "127.0.0.1:0"],
                                      in: directory, name: "server",
                                      environment: ["SWIFT_BACKTRACE": "enable=yes,swift-backtrace=\(backtracer.path)"])
        _ = try await process.waitForLine(startingWith: "invite: ")
        let group = process.process.processIdentifier
        defer { kill(-group, SIGKILL) }  // should the test fail: nothing left behind
        kill(group, SIGSEGV)
        let start = ContinuousClock.now
        while Self.living(inGroup: group).count < 2, ContinuousClock.now - start < .seconds(30) {
            try await Task.sleep(for: .milliseconds(5))
        }
        try #require(Self.living(inGroup: group).count == 2, "the runtime started the backtracer beside the server")
        process.kill()
        #expect(!process.process.isRunning)
        // An ended process may take a moment to be a zombie (or gone).
        let killed = ContinuousClock.now
        while !Self.living(inGroup: group).isEmpty, ContinuousClock.now - killed < .seconds(10) {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(Self.living(inGroup: group).isEmpty, "nothing of the crashed process's group lives on")
    }

    /// The processes of process group `group` that have not ended (zombies, ended but not yet
    /// reaped, and dead ones do not count).
    static func living(inGroup group: pid_t) -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.filter { $0.allSatisfy(\.isNumber) }.compactMap { pid in
            // /proc/PID/stat: "pid (comm) state ppid pgrp ..."; comm may hold spaces, so split after its ")".
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return nil }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 2, !["Z", "X"].contains(fields[0]), pid_t(fields[2]) == group else { return nil }
            return String(stat[..<close]) + ")"
        }
    }
}
#endif
