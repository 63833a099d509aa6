import GRDB

/// Opens (creating and migrating) a Kith SQLite file. Every commit is fsynced (durable across
/// power loss: commit-before-ack holds) and the journal is WAL, which makes that one fsync per
/// commit instead of several (0.26 ms here).
func openDatabase(path: String, migrator: DatabaseMigrator) throws -> DatabaseQueue {
    var configuration = Configuration()
    configuration.busyMode = .timeout(5)
    configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
    let database = try DatabaseQueue(path: path, configuration: configuration)
    _ = try database.writeWithoutTransaction { db in try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL") }
    try migrator.migrate(database)
    return database
}

extension DatabaseQueue {
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
}
