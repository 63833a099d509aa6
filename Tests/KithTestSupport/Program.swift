import Foundation

/// A program a test runs to its end, with a limit. A child that hangs (a CLI waiting on an agent
/// that stopped answering, a tool waiting on a bus) is killed at `timeout` and the call throws
/// naming it: one stuck child fails its own test instead of holding the whole run until CI's
/// limit, with nothing printed to say where. Its output goes to files, not pipes, so a
/// grandchild that inherited a pipe cannot keep the read open after the child itself ended.
public enum Program {
    public struct Output: Sendable {
        public let status: Int32
        public let stdout: String
        public let stderr: String
    }

    /// How long a program may run unless the caller says otherwise: well past the CLI's own
    /// 60 s limit on a call to its agent.
    public static let defaultTimeout: TimeInterval = 120

    /// Runs `executable ARGUMENTS` (with `stdin` as its input, else /dev/null) to its end;
    /// `shown` is how an error names it (default: its whole command line; leave out a secret).
    public static func run(_ executable: URL, _ arguments: [String], environment: [String: String]? = nil,
                           stdin: String? = nil, timeout: TimeInterval = defaultTimeout, shown: String? = nil) throws -> Output {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kith-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let files = ["out", "err", "in"].map { folder.appendingPathComponent($0) }
        for file in files { FileManager.default.createFile(atPath: file.path, contents: nil) }
        if let stdin { try Data(stdin.utf8).write(to: files[2]) }
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if let environment { process.environment = environment }
        let handles = try [FileHandle(forWritingTo: files[0]), FileHandle(forWritingTo: files[1]), FileHandle(forReadingFrom: files[2])]
        defer { for handle in handles { try? handle.close() } }
        process.standardOutput = handles[0]
        process.standardError = handles[1]
        process.standardInput = stdin == nil ? FileHandle.nullDevice : handles[2]
        try process.run()
        let timedOut = !ChildEnd.wait(for: process, timeout: timeout)
        if timedOut {
            ChildEnd.kill(process.processIdentifier)
            guard ChildEnd.wait(for: process) else {
                throw KithProcess.ProcessFailure(description: "`\(shown ?? executable.lastPathComponent)` was killed but its end was not seen")
            }
        }
        let output = Output(status: process.terminationStatus,
                            stdout: (try? String(contentsOf: files[0], encoding: .utf8)) ?? "",
                            stderr: (try? String(contentsOf: files[1], encoding: .utf8)) ?? "")
        guard !timedOut else {
            throw KithProcess.ProcessFailure(description: """
                `\(shown ?? ([executable.lastPathComponent] + arguments).joined(separator: " "))` did not end within \(Int(timeout)) s \
                and was killed; stdout: \(output.stdout); stderr: \(output.stderr)
                """)
        }
        return output
    }

    /// `run` of a program found on the usual system paths by name (`ss`, `systemd-analyze`).
    public static func run(_ name: String, _ arguments: [String], stdin: String? = nil,
                           timeout: TimeInterval = defaultTimeout) throws -> Output {
        guard let path = ["/usr/sbin/", "/usr/bin/", "/sbin/", "/bin/"].map({ $0 + name })
            .first(where: { FileManager.default.isExecutableFile(atPath: $0) })
        else { throw KithProcess.ProcessFailure(description: "\(name) is not installed") }
        return try run(URL(fileURLWithPath: path), arguments, stdin: stdin, timeout: timeout)
    }
}
