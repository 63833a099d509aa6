#if canImport(Glibc)
import Glibc
#endif
import Foundation
import KithTestSupport
import Testing

/// The network lab (`Tools/netlab`): real agents in network namespaces behind nftables NATs, a
/// server on a simulated public segment. Each case runs one scenario script with the `kith`
/// binary these tests built; the script sets up, asserts, prints a `RESULT` line and tears down.
/// Needs root and `ip netns`; skipped (saying why) otherwise.
@Suite(.serialized, .fewAtATime, .enabled(if: Netlab.unavailable == nil, "the network lab needs root, ip netns and nft"))
struct NetlabTests {
    /// The scenario scripts and their arguments (see each script's header); about 30 s in all.
    @Test(arguments: [
        ["lan"],
        ["lan-discovery"],
        ["nat-pair", "cone", "cone"],
        ["nat-pair", "cone", "symmetric"],
        ["nat-pair", "symmetric", "symmetric"],
        ["failover"],
    ])
    func scenario(_ arguments: [String]) async throws {
        let (status, output) = try await Self.run(arguments)
        let name = arguments.joined(separator: " ")
        if status == 77 {  // the script found the lab cannot run here
            print("netlab \(name) skipped: \(output)")
            return
        }
        let result = output.split(separator: "\n").last { $0.hasPrefix("RESULT ") }
        print("netlab \(name): \(result ?? "no result line")")
        #expect(status == 0 && result.map { !$0.contains("FAILED") } == true,
                "Tools/netlab/\(name) failed (exit \(status)):\n\(output)")
    }

    /// Runs `Tools/netlab/ARGUMENTS` with `KITH` set to the binary under test; its output goes to a
    /// file (no pipe to fill). Past `timeout` it gets SIGTERM, on which the script tears the lab
    /// down; SIGKILL 30 s later.
    static func run(_ arguments: [String], timeout: Duration = .seconds(90)) async throws -> (Int32, String) {
        let log = temporaryDirectory("netlab").appendingPathComponent("output.log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: log.deletingLastPathComponent()) }
        let process = Process()
        process.executableURL = Repository.url("Tools/netlab/\(arguments[0])")
        process.arguments = Array(arguments.dropFirst())
        process.environment = ProcessInfo.processInfo.environment.merging(["KITH": KithProcess.executable.path]) { $1 }
        let handle = try FileHandle(forWritingTo: log)
        defer { try? handle.close() }
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        var timedOut = false
        if process.isRunning {
            timedOut = true
            process.terminate()
            // The teardown runs once the script's current command ends; one that does not end is
            // not waited for without end.
            let killAt = ContinuousClock.now + .seconds(30)
            while process.isRunning, ContinuousClock.now < killAt { try? await Task.sleep(for: .milliseconds(100)) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        process.waitUntilExit()
        let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        return (process.terminationStatus, output + (timedOut ? "\n(timed out after \(timeout))" : ""))
    }
}

/// Whether the lab can run here.
enum Netlab {
    /// Why the lab cannot run here, or nil; printed once when it cannot.
    static let unavailable: String? = {
        let reason: String?
        if getuid() != 0 {
            reason = "not root: network namespaces need root"
        } else if (try? shell(["ip", "netns", "list"])) != 0 {
            reason = "`ip netns` is not available"
        } else if (try? shell(["nft", "--version"])) != 0 {
            reason = "nft (nftables) is not installed"
        } else {
            reason = nil
        }
        if let reason { print("NetlabTests skipped: \(reason)") }
        return reason
    }()

    /// Runs a command found on PATH, output discarded; returns its exit status.
    static func shell(_ arguments: [String]) throws -> Int32 {
        try Program.run(URL(fileURLWithPath: "/usr/bin/env"), arguments, timeout: 30).status
    }
}
