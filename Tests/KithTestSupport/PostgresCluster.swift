import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A private PostgreSQL cluster for the tests of one process: `initdb` in a temporary folder,
/// the server on a Unix socket in that folder and on a loopback port, each test in a database
/// of its own (`database()`), stopped when the process exits. Debian's own cluster is never
/// touched. Debian's `postgresql` runs it (Tools/bootstrap installs it); `initdb` refuses root,
/// so the cluster's files belong to the `postgres` user the package creates and its programs
/// run as that user (`runuser`). Tests that need it are enabled by `PostgresCluster.isInstalled`.
public final class PostgresCluster: @unchecked Sendable {
    /// The folder of Debian's PostgreSQL programs (the newest version installed).
    public static let binaries: URL? = {
        let root = URL(fileURLWithPath: "/usr/lib/postgresql")
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return versions.compactMap(Int.init).sorted().last.map { root.appendingPathComponent("\($0)/bin") }
    }()

    public static var isInstalled: Bool {
        guard let binaries else { return false }
        return FileManager.default.isExecutableFile(atPath: binaries.appendingPathComponent("pg_ctl").path)
            && FileManager.default.isExecutableFile(atPath: "/usr/sbin/runuser")
    }

    /// The user the tests connect as (a superuser of this cluster only; trust on the socket and loopback).
    public static let user = "kith"

    public let directory: URL
    public let port: Int
    private let databases = NSLock()
    private var created = 0

    /// The cluster of this test process, started on first use.
    public static func shared() throws -> PostgresCluster {
        try sharedCluster.get()
    }

    private static let sharedCluster: Result<PostgresCluster, any Error> = Result {
        let cluster = try PostgresCluster()
        running = cluster
        atexit { PostgresCluster.running?.stop() }
        return cluster
    }

    nonisolated(unsafe) private static var running: PostgresCluster?

    /// A cluster of the caller's own (for a test that restarts it); the caller stops it.
    public static func start() throws -> PostgresCluster {
        try PostgresCluster()
    }

    private init() throws {
        guard Self.isInstalled, let binaries = Self.binaries else {
            throw Failure("PostgreSQL is not installed (/usr/lib/postgresql/*/bin); run Tools/bootstrap")
        }
        Self.removeLeftovers()
        // The postgres user must reach the folder: a fresh one under /tmp (sticky, world-traversable),
        // not the test root (0700 when the process umask says so). Its name holds this process's id.
        var template = Array("/tmp/kith-pg-\(getpid())-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw Failure("mkdtemp failed: \(errno)") }
        directory = URL(fileURLWithPath: String(cString: made))
        try Self.run("/bin/chown", ["postgres:postgres", directory.path])
        let data = directory.appendingPathComponent("data").path
        try Self.run("/usr/sbin/runuser", ["-u", "postgres", "--", binaries.appendingPathComponent("initdb").path,
                                           "-D", data, "-A", "trust", "-U", Self.user, "--no-sync", "-E", "UTF8"])
        var lastError = ""
        for _ in 1...3 {
            let port = try freeLoopbackPort()
            do {
                try Self.run("/usr/sbin/runuser", ["-u", "postgres", "--", binaries.appendingPathComponent("pg_ctl").path,
                                                   "-D", data, "-w", "-t", "30", "-l", directory.appendingPathComponent("log").path,
                                                   "-o", "-k \(directory.path) -p \(port) -c listen_addresses=127.0.0.1 -c fsync=on", "start"])
                self.port = port
                return
            } catch {
                lastError = "\(error)"
            }
        }
        throw Failure("PostgreSQL did not start on 3 ports; last: \(lastError)")
    }

    /// A new, empty database for one test; its URL as `kith server --store` takes it.
    public func database() throws -> String {
        let name = databases.withLock { created += 1; return "t\(getpid())_\(created)" }
        try Self.run(Self.binaries!.appendingPathComponent("createdb").path,
                     ["-h", directory.path, "-p", String(port), "-U", Self.user, name])
        return url(database: name)
    }

    /// Runs one SQL statement with `psql` (as the cluster's superuser).
    @discardableResult
    public func psql(_ sql: String, database: String = "postgres") throws -> String {
        try Self.run(Self.binaries!.appendingPathComponent("psql").path,
                     ["-h", directory.path, "-p", String(port), "-U", Self.user, "-d", database, "-v", "ON_ERROR_STOP=1", "-c", sql])
    }

    /// The URL of `database` over the cluster's Unix socket.
    public func url(database: String) -> String {
        "postgresql://\(Self.user)@:\(port)/\(database)?host=\(directory.path)"
    }

    /// Restarts the server (a fast shutdown: open connections are cut) on the same port.
    public func restart() throws {
        try Self.run("/usr/sbin/runuser", ["-u", "postgres", "--", Self.binaries!.appendingPathComponent("pg_ctl").path,
                                           "-D", directory.appendingPathComponent("data").path, "-m", "fast", "-w", "-t", "30",
                                           "-l", directory.appendingPathComponent("log").path, "restart"])
    }

    /// Stops the server at once (SIGQUIT: PostgreSQL's immediate shutdown; the tests are done
    /// with it) and removes its folder. A signal, not `pg_ctl stop`: this runs as the process
    /// exits, where starting and waiting for programs is not dependable.
    public func stop() {
        Self.stop(pidFile: directory.appendingPathComponent("data/postmaster.pid"))
        try? FileManager.default.removeItem(at: directory)
    }

    /// SIGQUIT to the server `pidFile` names, and a wait of up to 2 s for it to end.
    private static func stop(pidFile: URL) {
        if let text = try? String(contentsOf: pidFile, encoding: .utf8), let line = text.split(separator: "\n").first,
           let pid = pid_t(line), pid > 0, kill(pid, SIGQUIT) == 0 {
            for _ in 0..<100 where kill(pid, 0) == 0 { usleep(20_000) }
        }
    }

    /// Clusters of test processes that are gone (killed before their exit could stop them):
    /// their servers stopped and their folders removed, once per process.
    private static func removeLeftovers() {
        _ = leftoversRemoved
    }

    private static let leftoversRemoved: Void = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/tmp")) ?? []
        for name in names where name.hasPrefix("kith-pg-") {
            let parts = name.split(separator: "-")
            guard parts.count == 4, let owner = pid_t(parts[2]), owner != getpid(), kill(owner, 0) != 0, errno == ESRCH else { continue }
            let folder = URL(fileURLWithPath: "/tmp").appendingPathComponent(name)
            stop(pidFile: folder.appendingPathComponent("data/postmaster.pid"))
            try? FileManager.default.removeItem(at: folder)
        }
    }()

    /// Runs a program to its end; throws with its output if it failed. Not with Foundation's
    /// `Process`: `pg_ctl start` leaves the server running, and the server would inherit the
    /// descriptor by which `Process` learns that its child ended (and any pipe), so the wait
    /// would never end. Here the child gets only its output file (descriptors from 3 on closed).
    @discardableResult
    static func run(_ path: String, _ arguments: [String]) throws -> String {
        let outputPath = FileManager.default.temporaryDirectory.appendingPathComponent("kith-pg-run-\(UUID().uuidString)").path
        defer { unlink(outputPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        guard let closeFrom = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else {
            throw Failure("this C library has no posix_spawn_file_actions_addclosefrom_np (glibc 2.34 or later)")
        }
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        _ = unsafeBitCast(closeFrom, to: CloseFrom.self)(&actions, 3)
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, path, &actions, nil, argv, environ)
        guard spawned == 0 else { throw Failure("cannot run \(path): errno \(spawned)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        let exited = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        guard exited == 0 else {
            throw Failure("\(([path] + arguments).joined(separator: " ")) exited \(exited): \(text)")
        }
        return text
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }
}
