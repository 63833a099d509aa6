import Foundation
import GRDB

/// The watcher's own database, one per account (`<profile>/watch/<account>.sqlite`): which
/// contacts it watches, in order, and what it showed last, so that after a crash it draws that
/// before any network traffic. Separate from the agent's store: a watcher runs without an agent,
/// and never writes the agent's data. What it shows is kept as the JSON the watcher encodes
/// (this layer does not know the local API's types).
public final class WatcherStore: @unchecked Sendable {
    let database: DatabaseQueue

    public init(path: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE watched (contact TEXT PRIMARY KEY, position INTEGER NOT NULL);
                CREATE TABLE shown (id INTEGER PRIMARY KEY CHECK (id = 1), state BLOB NOT NULL, savedAtMillis INTEGER NOT NULL);
                """)
        }
        migrator.registerMigration("v2 meta") { db in
            // What a watcher needs to sign in without an agent: the server's invite, the account
            // name, the watch session's token (spec §Watch sessions).
            try db.execute(sql: "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        }
        database = try openDatabase(path: path, migrator: migrator)
    }

    /// The watched contacts, in the order they were added.
    public func watched() throws -> [String] {
        try database.read { db in try String.fetchAll(db, sql: "SELECT contact FROM watched ORDER BY position") }
    }

    /// Adds `contacts` at the end (those watched already stay where they are); the ones added.
    @discardableResult
    public func add(_ contacts: [String]) throws -> [String] {
        try database.write { db in
            var next = try Int.fetchOne(db, sql: "SELECT COALESCE(MAX(position), 0) + 1 FROM watched") ?? 1
            var added: [String] = []
            for contact in contacts {
                try db.execute(sql: "INSERT OR IGNORE INTO watched (contact, position) VALUES (?, ?)", arguments: [contact, next])
                guard db.changesCount > 0 else { continue }
                next += 1
                added.append(contact)
            }
            return added
        }
    }

    /// Removes `contacts`; the ones that were watched.
    @discardableResult
    public func remove(_ contacts: [String]) throws -> [String] {
        try database.write { db in
            try contacts.filter { contact in
                try db.execute(sql: "DELETE FROM watched WHERE contact = ?", arguments: [contact])
                return db.changesCount > 0
            }
        }
    }

    public func meta(_ key: String) throws -> String? {
        try database.read { db in try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = ?", arguments: [key]) }
    }

    /// Sets `key` to `value`; nil removes it.
    public func setMeta(_ key: String, _ value: String?) throws {
        try database.write { db in
            if let value {
                try db.execute(sql: "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", arguments: [key, value])
            } else {
                try db.execute(sql: "DELETE FROM meta WHERE key = ?", arguments: [key])
            }
        }
    }

    /// What the watcher showed last (nil: never saved).
    public func shown() throws -> Data? {
        try database.read { db in try Data.fetchOne(db, sql: "SELECT state FROM shown WHERE id = 1") }
    }

    public func saveShown(_ state: Data, nowMillis: UInt64) throws {
        try database.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO shown (id, state, savedAtMillis) VALUES (1, ?, ?)",
                           arguments: [state, Int64(nowMillis)])
        }
    }
}
