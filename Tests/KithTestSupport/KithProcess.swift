import Foundation

/// A real `kith` process for integration tests, with its stdout and stderr in files that a test
/// can wait on. Stopped (SIGKILL) when the test is done with it.
public final class KithProcess: @unchecked Sendable {
    /// The `kith` binary built beside the test bundle, or the one `KITH_BINARY` names (to time a
    /// test against a release build: `KITH_BINARY=.build/release/kith swift test --filter …`).
    public static var executable: URL {
        if let path = ProcessInfo.processInfo.environment["KITH_BINARY"], !path.isEmpty {
            return URL(fileURLWithPath: path, relativeTo: Repository.url(".")).standardizedFileURL
        }
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().deletingLastPathComponent(),
            Repository.url(".build/debug"),
        ]
        for dir in candidates where FileManager.default.isExecutableFile(atPath: dir.appendingPathComponent("kith").path) {
            return dir.appendingPathComponent("kith")
        }
        return Repository.url(".build/debug/kith")
    }

    public let process = Process()
    public let output: URL
    public let errors: URL

    /// Starts `kith ARGUMENTS` with its output in `directory`; `executable` runs another program
    /// instead (`ip netns exec NS kith …`, to start kith inside a namespace).
    public init(_ arguments: [String], in directory: URL, name: String, environment: [String: String] = [:],
                executable: URL? = nil) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        output = directory.appendingPathComponent("\(name).out")
        errors = directory.appendingPathComponent("\(name).err")
        FileManager.default.createFile(atPath: output.path, contents: nil)
        FileManager.default.createFile(atPath: errors.path, contents: nil)
        process.executableURL = executable ?? Self.executable
        process.arguments = arguments
        // Not under a systemd unit, whatever runs the tests: the agent then writes its log file too.
        process.environment = ProcessInfo.processInfo.environment.merging(["JOURNAL_STREAM": ""].merging(environment) { $1 }) { $1 }
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = try FileHandle(forWritingTo: errors)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        command = (["kith"] + arguments).joined(separator: " ")
        HangWatch.started(process.processIdentifier, command, errors: errors)
    }

    /// The command line, to name the process in a report.
    private let command: String
    /// Whether its end was seen to (a crash reported once, though `kill` runs again at deinit).
    private let ended = Locked(false)

    public var stdout: String { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }
    public var stderr: String { (try? String(contentsOf: errors, encoding: .utf8)) ?? "" }

    /// Waits until a line of stdout starts with `prefix`; returns the rest of that line.
    /// Sleeps until `timeout` has passed on the clock *and* this task has been woken a fair number
    /// of times: when the tests' thread pool (one thread per core) is held by blocking work, a
    /// wait must not end only because its task could not run.
    public static func patientSleep(_ timeout: Duration) async throws {
        let start = ContinuousClock.now
        var wakes = 0
        let minimumWakes = Int(timeout / .milliseconds(200))
        while ContinuousClock.now - start < timeout || wakes < minimumWakes {
            try await Task.sleep(for: .milliseconds(100))
            wakes += 1
        }
    }

    public func waitForLine(startingWith prefix: String, timeout: TimeInterval = 20) async throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        // Checked once more after the deadline: on a loaded machine this task may not run for a
        // while, and a line that came meanwhile still counts.
        var last = false
        while !last {
            last = Date() >= deadline || !process.isRunning
            if let line = stdout.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) {
                return String(line.dropFirst(prefix.count))
            }
            if !last { try await Task.sleep(for: .milliseconds(20)) }
        }
        throw ProcessFailure(description: "no line starting with \(prefix.debugDescription); stdout: \(stdout); stderr: \(stderr)")
    }

    public func kill() {
        if process.isRunning { ChildEnd.kill(process.processIdentifier) }
        if !ChildEnd.wait(for: process) {
            FileHandle.standardError.write(Data("kith process \(process.processIdentifier) was killed but its end was not seen: \(command)\n".utf8))
        }
        finished()
    }

    /// Done with: the hang watch forgets it, and a crash in its stderr is reported.
    private func finished() {
        guard ended.withLock({ ended in defer { ended = true }; return !ended }) else { return }
        HangWatch.stopped(process.processIdentifier)
        ChildEnd.reportCrash(of: command, stderr: stderr)
    }

    /// SIGTERM, as systemd or `kill` sends it; waits (up to `timeout` seconds) for the process to
    /// end and returns its exit status, nil if it did not end in time (it is then killed).
    public func terminate(timeout: TimeInterval = 10) -> Int32? {
        guard process.isRunning else {
            finished()
            return process.terminationStatus
        }
        Foundation.kill(process.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        guard !process.isRunning else {
            kill()
            return nil
        }
        finished()
        return process.terminationStatus
    }

    deinit { kill() }

    /// Runs `kith ARGUMENTS` to completion (killed, and an error, past `timeout` seconds); returns
    /// its exit status and output.
    public static func run(_ arguments: [String], stdin: String? = nil, environment: [String: String] = [:],
                           timeout: TimeInterval = Program.defaultTimeout) throws -> (status: Int32, stdout: String, stderr: String) {
        let output = try Program.run(executable, arguments, environment: ProcessInfo.processInfo.environment.merging(environment) { $1 },
                                     stdin: stdin, timeout: timeout)
        return (output.status, output.stdout, output.stderr)
    }

    public struct ProcessFailure: Error, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
    }
}

/// A fresh directory for one test, under one folder per test process that is removed when the
/// process exits, so a test run leaves nothing in the system's temporary directory (set
/// `KITH_KEEP_TEST_FILES=1` to keep it for a look after a failure).
public func temporaryDirectory(_ name: String) -> URL {
    let url = testRoot.appendingPathComponent("\(name)-\(UUID().uuidString.prefix(8))")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// `kith-tests-PID` under the system's temporary directory; its removal is registered with the
/// process's exit on first use.
private let testRoot: URL = {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("kith-tests-\(getpid())")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    if ProcessInfo.processInfo.environment["KITH_KEEP_TEST_FILES"] == nil { atexit { removeTestRoot() } }
    return url
}()

private func removeTestRoot() { try? FileManager.default.removeItem(at: testRoot) }
