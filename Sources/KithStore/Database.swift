import Foundation
import GRDB

/// Opens (creating and migrating) a Kith SQLite file. Every commit is fsynced (durable across
/// power loss: commit-before-ack holds) and the journal is WAL, which makes that one fsync per
/// commit instead of several (0.26 ms here). The file is readable by its owner only, whatever the
/// folder's mode or the umask (it holds password hashes, tokens' hashes, messages): SQLite gives
/// its write-ahead log and shared-memory files the database file's mode.
func openDatabase(path: String, migrator: DatabaseMigrator) throws -> DatabaseQueue {
    try openDatabase(path: path, migrator: migrator) { try DatabaseQueue(path: $0, configuration: $1) }
}

/// The server's store: a pool, whose readers (a device lookup, a resume, a backlog read) do not
/// wait behind a group commit's fsync; writes still go one at a time. Its writer leaves the
/// write-ahead log to `checkpointInBackground` (SQLite's own checkpoint after 1000 pages of log
/// runs inside a commit: a relay group every fraction of a second waited milliseconds for it);
/// it checkpoints itself only past `backstopPages`, if the background one falls behind or stops.
func openDatabasePool(path: String, migrator: DatabaseMigrator) throws -> DatabasePool {
    try openDatabase(path: path, migrator: migrator) { path, configuration in
        var configuration = configuration
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA wal_autocheckpoint = \(backstopPages)") }
        return try DatabasePool(path: path, configuration: configuration)
    }
}

/// Pages of write-ahead log (4 KiB each) past which the server's writer checkpoints itself.
private let backstopPages = 16_384

private func openDatabase<Writer: DatabaseWriter>(path: String, migrator: DatabaseMigrator,
                                                  _ open: (String, Configuration) throws -> Writer) throws -> Writer {
    if !FileManager.default.fileExists(atPath: path) {
        _ = FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
    }
    chmod(path, 0o600)
    for sidecar in [path + "-wal", path + "-shm"] where FileManager.default.fileExists(atPath: sidecar) { chmod(sidecar, 0o600) }
    var configuration = Configuration()
    configuration.busyMode = .timeout(5)
    configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
    let database = try open(path, configuration)
    _ = try database.writeWithoutTransaction { db in try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL") }
    try migrator.migrate(database)
    return database
}

extension DatabaseQueue {
    /// A transaction whose commit is not fsynced (`synchronous = NORMAL` for it alone): a crash
    /// of the process loses nothing, a power loss may undo it (unless a later fsynced commit came
    /// first). Only for bookkeeping that is harmless to redo; every other commit stays fsynced.
    func writeWithoutFsync(_ updates: (Database) throws -> Void) throws {
        try writeWithoutTransaction { db in
            try db.cachedStatement(sql: "PRAGMA synchronous = NORMAL").execute()
            var failure: (any Error)?
            do { try db.inTransaction { try updates(db); return .commit } } catch { failure = error }
            // Back to fsynced commits before anything else runs on this connection.
            try db.cachedStatement(sql: "PRAGMA synchronous = FULL").execute()
            if let failure { throw failure }
        }
    }
}

extension DatabaseWriter {
    /// Folds the write-ahead log into the database file and empties it (`PRAGMA wal_checkpoint(TRUNCATE)`).
    func checkpointTruncating() throws {
        try writeWithoutTransaction { db in _ = try db.checkpoint(.truncate) }
    }
}

extension AgentStore {
    /// Folds the write-ahead log into the database, before the process exits.
    public func checkpoint() throws { try database.checkpointTruncating() }
}

extension SQLiteServerStore {
    public func checkpoint() throws { try database.checkpointTruncating() }

    public func checkpointInBackground() throws {
        try checkpointer.writeWithoutTransaction { db in _ = try db.checkpoint(.passive) }
    }
}
