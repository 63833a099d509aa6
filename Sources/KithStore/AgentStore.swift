import Foundation
import GRDB

/// One device's durable state: its session with the server, the account's device list, and its
/// notes. Every method commits before it returns, so the agent acknowledges nothing a crash
/// could still lose.
public final class AgentStore: Sendable {
    private let database: DatabaseQueue

    public init(path: String) throws {
        database = try openDatabase(path: path, migrator: Self.migrator)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE setting (key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL);
                CREATE TABLE device (
                    id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL, terminalType INTEGER NOT NULL,
                    key BLOB NOT NULL, online INTEGER NOT NULL, lastSeenMillis INTEGER NOT NULL,
                    clientVersion TEXT NOT NULL
                );
                CREATE TABLE outbox (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT, noteID BLOB NOT NULL UNIQUE, receiver TEXT NOT NULL,
                    text TEXT NOT NULL, sentAtMillis INTEGER NOT NULL, relayed INTEGER NOT NULL DEFAULT 0
                );
                CREATE TABLE inbox (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT, noteID BLOB NOT NULL UNIQUE, sender TEXT NOT NULL,
                    text TEXT NOT NULL, sentAtMillis INTEGER NOT NULL, receivedAtMillis INTEGER NOT NULL
                );
                """)
        }
        return migrator
    }

    // MARK: - Session

    /// What the agent keeps of its login. The password is never stored.
    public struct Session: Sendable, Equatable {
        public var invite: String
        public var account: String
        public var deviceID: String
        public var token: [UInt8]
        public var expiresAtMillis: UInt64

        public init(invite: String, account: String, deviceID: String, token: [UInt8], expiresAtMillis: UInt64) {
            self.invite = invite
            self.account = account
            self.deviceID = deviceID
            self.token = token
            self.expiresAtMillis = expiresAtMillis
        }
    }

    public func session() throws -> Session? {
        try database.read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT key, value FROM setting")
            var values: [String: DatabaseValue] = [:]
            for row in rows { values[row["key"]] = row["value"] }
            guard let invite = values["invite"].flatMap(String.fromDatabaseValue),
                  let account = values["account"].flatMap(String.fromDatabaseValue),
                  let deviceID = values["deviceID"].flatMap(String.fromDatabaseValue),
                  let token = values["token"].flatMap(Data.fromDatabaseValue),
                  let expires = values["expiresAtMillis"].flatMap(Int64.fromDatabaseValue)
            else { return nil }
            return Session(invite: invite, account: account, deviceID: deviceID, token: [UInt8](token),
                           expiresAtMillis: UInt64(expires))
        }
    }

    public func saveSession(_ session: Session) throws {
        try database.write { db in
            let values: [(String, any DatabaseValueConvertible)] = [
                ("invite", session.invite), ("account", session.account), ("deviceID", session.deviceID),
                ("token", Data(session.token)), ("expiresAtMillis", Int64(session.expiresAtMillis)),
            ]
            for (key, value) in values {
                try db.execute(sql: "INSERT OR REPLACE INTO setting (key, value) VALUES (?, ?)", arguments: [key, value])
            }
        }
    }

    /// Forgets the session (logout, or a token the server no longer accepts); keeps the invite.
    public func clearSession() throws {
        try database.write { db in
            try db.execute(sql: "DELETE FROM setting WHERE key IN ('token', 'expiresAtMillis', 'deviceID', 'account')")
        }
    }

    public func invite() throws -> String? {
        try database.read { db in try String.fetchOne(db, sql: "SELECT value FROM setting WHERE key = 'invite'") }
    }

    // MARK: - Devices

    public struct Device: Sendable, Equatable, Codable {
        public var id: String
        public var name: String
        public var terminalType: UInt8
        public var key: [UInt8]
        public var online: Bool
        public var lastSeenMillis: UInt64
        public var clientVersion: String

        public init(id: String, name: String, terminalType: UInt8, key: [UInt8], online: Bool, lastSeenMillis: UInt64,
                    clientVersion: String) {
            self.id = id
            self.name = name
            self.terminalType = terminalType
            self.key = key
            self.online = online
            self.lastSeenMillis = lastSeenMillis
            self.clientVersion = clientVersion
        }
    }

    /// Replaces the device list if `revision` is newer than the one stored; returns whether it did.
    @discardableResult
    public func replaceDevices(_ devices: [Device], revision: UInt64) throws -> Bool {
        try database.write { db in
            let current = try Int64.fetchOne(db, sql: "SELECT value FROM setting WHERE key = 'deviceListRevision'") ?? -1
            guard Int64(clamping: revision) > current else { return false }
            try db.execute(sql: "DELETE FROM device")
            for d in devices {
                try db.execute(sql: """
                    INSERT INTO device (id, name, terminalType, key, online, lastSeenMillis, clientVersion)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [d.id, d.name, Int(d.terminalType), Data(d.key), d.online,
                                     Int64(clamping: d.lastSeenMillis), d.clientVersion])
            }
            try db.execute(sql: "INSERT OR REPLACE INTO setting (key, value) VALUES ('deviceListRevision', ?)",
                           arguments: [Int64(clamping: revision)])
            return true
        }
    }

    public func devices() throws -> [Device] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM device ORDER BY id").map {
                Device(id: $0["id"], name: $0["name"], terminalType: UInt8($0["terminalType"] as Int),
                       key: [UInt8]($0["key"] as Data), online: $0["online"], lastSeenMillis: UInt64($0["lastSeenMillis"] as Int64),
                       clientVersion: $0["clientVersion"])
            }
        }
    }

    /// Marks every device offline: the agent lost the server and no longer knows.
    public func markAllOffline() throws {
        try database.write { db in try db.execute(sql: "UPDATE device SET online = 0") }
    }

    // MARK: - Notes

    public struct Note: Sendable, Equatable, Codable {
        public var seq: Int64
        public var noteID: [UInt8]
        /// The other device: the receiver of an outgoing note, the sender of an incoming one.
        public var peer: String
        public var text: String
        public var sentAtMillis: UInt64
        public var receivedAtMillis: UInt64?
        public var relayed: Bool?
    }

    /// Commits a note to the outbox; it is sent, in order, once the server is reachable.
    public func enqueueOutgoing(noteID: [UInt8], to receiver: String, text: String, sentAtMillis: UInt64) throws -> Int64 {
        try database.write { db in
            try db.execute(sql: "INSERT INTO outbox (noteID, receiver, text, sentAtMillis) VALUES (?, ?, ?, ?)",
                           arguments: [Data(noteID), receiver, text, Int64(clamping: sentAtMillis)])
            return db.lastInsertedRowID
        }
    }

    public func pendingOutgoing(limit: Int = 64) throws -> [Note] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM outbox WHERE relayed = 0 ORDER BY seq LIMIT ?", arguments: [limit])
                .map(Self.outgoing)
        }
    }

    public func markRelayed(seq: Int64) throws {
        try database.write { db in try db.execute(sql: "UPDATE outbox SET relayed = 1 WHERE seq = ?", arguments: [seq]) }
    }

    /// Commits an incoming note; false if a note with this id is already stored (a redelivery).
    @discardableResult
    public func storeIncoming(noteID: [UInt8], from sender: String, text: String, sentAtMillis: UInt64,
                              receivedAtMillis: UInt64) throws -> Bool {
        try database.write { db in
            try db.execute(sql: """
                INSERT OR IGNORE INTO inbox (noteID, sender, text, sentAtMillis, receivedAtMillis) VALUES (?, ?, ?, ?, ?)
                """, arguments: [Data(noteID), sender, text, Int64(clamping: sentAtMillis), Int64(clamping: receivedAtMillis)])
            return db.changesCount > 0
        }
    }

    public func incoming(limit: Int = 100) throws -> [Note] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM inbox ORDER BY seq DESC LIMIT ?", arguments: [limit]).map {
                Note(seq: $0["seq"], noteID: [UInt8]($0["noteID"] as Data), peer: $0["sender"], text: $0["text"],
                     sentAtMillis: UInt64($0["sentAtMillis"] as Int64), receivedAtMillis: UInt64($0["receivedAtMillis"] as Int64),
                     relayed: nil)
            }.reversed()
        }
    }

    private static func outgoing(_ row: Row) -> Note {
        Note(seq: row["seq"], noteID: [UInt8](row["noteID"] as Data), peer: row["receiver"], text: row["text"],
             sentAtMillis: UInt64(row["sentAtMillis"] as Int64), receivedAtMillis: nil, relayed: row["relayed"])
    }
}
