import Foundation
import GRDB
import KithWire

/// `ServerStore` in one SQLite file (WAL), created and migrated when opened.
public final class SQLiteServerStore: ServerStore {
    let database: DatabasePool
    /// The connection of `checkpointInBackground`, apart from the pool's writer and readers.
    let checkpointer: DatabaseQueue

    public init(path: String) throws {
        database = try openDatabasePool(path: path, migrator: Self.migrator)
        checkpointer = try DatabaseQueue(path: path)
    }

    /// Runs a read of one statement without the transaction `read` wraps around it: one SELECT
    /// sees one consistent state by itself, and the BEGIN and COMMIT were two statements more on
    /// every device lookup, resume and relay check. A read of several statements that must agree
    /// uses `database.read`.
    func readingOne<T>(_ body: (Database) throws -> T) throws -> T {
        try database.unsafeRead(body)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE account (
                    name TEXT PRIMARY KEY NOT NULL,
                    passwordHash TEXT NOT NULL,
                    createdAtMillis INTEGER NOT NULL
                );
                CREATE TABLE device (
                    id TEXT PRIMARY KEY NOT NULL,
                    account TEXT NOT NULL REFERENCES account(name),
                    terminalType INTEGER NOT NULL,
                    typeCode TEXT NOT NULL,
                    ordinal INTEGER NOT NULL,
                    name TEXT NOT NULL,
                    key BLOB NOT NULL UNIQUE,
                    clientVersion TEXT NOT NULL,
                    addresses TEXT NOT NULL,
                    createdAtMillis INTEGER NOT NULL,
                    lastSeenMillis INTEGER NOT NULL,
                    UNIQUE (account, typeCode, ordinal)
                );
                CREATE TABLE session (
                    tokenHash BLOB PRIMARY KEY NOT NULL,
                    deviceID TEXT NOT NULL REFERENCES device(id),
                    expiresAtMillis INTEGER NOT NULL,
                    revoked INTEGER NOT NULL DEFAULT 0
                );
                CREATE TABLE relay (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    sender TEXT NOT NULL,
                    receiver TEXT NOT NULL REFERENCES device(id),
                    payload BLOB NOT NULL,
                    createdAtMillis INTEGER NOT NULL
                );
                CREATE INDEX relay_by_receiver ON relay(receiver, id);
                """)
        }
        migrator.registerMigration("v2 contacts and messages") { db in
            // A contact pair is stored once, names in order (low < high); `requester` is who asked.
            try db.execute(sql: """
                CREATE TABLE contact (
                    low TEXT NOT NULL REFERENCES account(name),
                    high TEXT NOT NULL REFERENCES account(name),
                    requester TEXT NOT NULL,
                    accepted INTEGER NOT NULL DEFAULT 0,
                    createdAtMillis INTEGER NOT NULL,
                    PRIMARY KEY (low, high)
                );
                CREATE INDEX contact_by_high ON contact(high);
                CREATE TABLE message_code (
                    code INTEGER PRIMARY KEY AUTOINCREMENT,
                    sender TEXT NOT NULL,
                    messageID BLOB NOT NULL,
                    createdAtMillis INTEGER NOT NULL,
                    UNIQUE (sender, messageID)
                );
                ALTER TABLE relay ADD COLUMN code INTEGER;
                ALTER TABLE device ADD COLUMN publicAddresses TEXT NOT NULL DEFAULT '';
                """)
        }
        migrator.registerMigration("v3 rosters and policies") { db in
            // Signed documents exactly as published (Protocol/roster.md §Distribution): per account
            // the latest roster and every one that changed the primary or the epoch (`kept`), and
            // the latest policy of each device. A revoked device keeps its row (its id is never
            // given again) but is refused at login and left out of every list.
            try db.execute(sql: """
                CREATE TABLE roster (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    account TEXT NOT NULL REFERENCES account(name),
                    document BLOB NOT NULL,
                    kept INTEGER NOT NULL
                );
                CREATE INDEX roster_by_account ON roster(account, seq);
                CREATE TABLE policy (
                    deviceID TEXT PRIMARY KEY NOT NULL,
                    account TEXT NOT NULL REFERENCES account(name),
                    document BLOB NOT NULL
                );
                ALTER TABLE device ADD COLUMN unlinked INTEGER NOT NULL DEFAULT 0;
                """)
        }
        migrator.registerMigration("v4 revoked, not unlinked") { db in
            // One word for cutting a device off the account: "revoked" (the wire's `Revoke`).
            try db.execute(sql: "ALTER TABLE device RENAME COLUMN unlinked TO revoked")
        }
        migrator.registerMigration("v5 account links") { db in
            // Protocol/links.md §Links: an account has at most one master (the primary key).
            try db.execute(sql: """
                CREATE TABLE account_link (
                    linked TEXT PRIMARY KEY NOT NULL REFERENCES account(name) ON DELETE CASCADE,
                    master TEXT NOT NULL REFERENCES account(name) ON DELETE CASCADE,
                    createdAtMillis INTEGER NOT NULL
                );
                CREATE INDEX account_link_by_master ON account_link(master);
                """)
        }
        migrator.registerMigration("v6 relays for linked accounts") { db in
            // Protocol/links.md §One connection, many accounts: for which account a queued payload
            // is delivered, and for which its sender wrote it (each NULL: the device's own).
            try db.execute(sql: """
                ALTER TABLE relay ADD COLUMN scope TEXT;
                ALTER TABLE relay ADD COLUMN fromAccount TEXT;
                """)
        }
        migrator.registerMigration("v7 relay usage") { db in
            // RelayQuota: what waits per receiving and per sending device, kept exact by triggers
            // whatever deletes a payload (an acknowledgement, a revocation), so a check is one lookup.
            try db.execute(sql: """
                CREATE TABLE relay_usage (
                    device TEXT NOT NULL,
                    role TEXT NOT NULL,
                    count INTEGER NOT NULL,
                    bytes INTEGER NOT NULL,
                    PRIMARY KEY (device, role)
                ) WITHOUT ROWID;
                INSERT INTO relay_usage SELECT receiver, 'receiver', count(*), sum(length(payload)) FROM relay GROUP BY receiver;
                INSERT INTO relay_usage SELECT sender, 'sender', count(*), sum(length(payload)) FROM relay GROUP BY sender;
                CREATE TRIGGER relay_usage_insert AFTER INSERT ON relay BEGIN
                    INSERT INTO relay_usage VALUES (NEW.receiver, 'receiver', 1, length(NEW.payload))
                        ON CONFLICT DO UPDATE SET count = count + 1, bytes = bytes + length(NEW.payload);
                    INSERT INTO relay_usage VALUES (NEW.sender, 'sender', 1, length(NEW.payload))
                        ON CONFLICT DO UPDATE SET count = count + 1, bytes = bytes + length(NEW.payload);
                END;
                CREATE TRIGGER relay_usage_delete AFTER DELETE ON relay BEGIN
                    UPDATE relay_usage SET count = count - 1, bytes = bytes - length(OLD.payload)
                        WHERE (device = OLD.receiver AND role = 'receiver') OR (device = OLD.sender AND role = 'sender');
                    DELETE FROM relay_usage WHERE device IN (OLD.receiver, OLD.sender) AND count <= 0;
                END;
                """)
        }
        migrator.registerMigration("v8 watch sessions") { db in
            // spec §Watch sessions: watch-only tokens (no device), the messages each account's
            // devices have not yet reported on, and their latest report per contact.
            try db.execute(sql: """
                CREATE TABLE watch_session (
                    tokenHash BLOB PRIMARY KEY NOT NULL,
                    account TEXT NOT NULL REFERENCES account(name) ON DELETE CASCADE,
                    expiresAtMillis INTEGER NOT NULL,
                    revoked INTEGER NOT NULL DEFAULT 0
                );
                CREATE TABLE watch_message (
                    account TEXT NOT NULL,
                    contact TEXT NOT NULL,
                    code INTEGER NOT NULL,
                    PRIMARY KEY (account, contact, code)
                ) WITHOUT ROWID;
                CREATE TABLE watch_report (
                    account TEXT NOT NULL,
                    contact TEXT NOT NULL,
                    upToCode INTEGER NOT NULL,
                    unread INTEGER NOT NULL,
                    PRIMARY KEY (account, contact)
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v9 server instances") { db in
            // `kith server status`: each running instance's latest report of itself.
            try db.execute(sql: """
                CREATE TABLE server_instance (
                    id TEXT PRIMARY KEY NOT NULL,
                    address TEXT NOT NULL,
                    startedAtMillis INTEGER NOT NULL,
                    seenAtMillis INTEGER NOT NULL,
                    sessions INTEGER NOT NULL
                );
                """)
        }
        return migrator
    }

    public func recordInstance(_ report: InstanceReport) throws {
        try database.write { db in
            try db.cachedStatement(sql: "INSERT OR REPLACE INTO server_instance VALUES (?, ?, ?, ?, ?)")
                .execute(arguments: [report.id, report.address, Int64(report.startedAtMillis), Int64(report.seenAtMillis), report.sessions])
        }
    }

    public func instances(seenSince since: UInt64) throws -> [InstanceReport] {
        try readingOne { db in
            try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM server_instance WHERE seenAtMillis >= ? ORDER BY address, id"),
                             arguments: [Int64(since)]).map {
                InstanceReport(id: $0["id"], address: $0["address"], startedAtMillis: UInt64($0["startedAtMillis"] as Int64),
                               seenAtMillis: UInt64($0["seenAtMillis"] as Int64), sessions: $0["sessions"])
            }
        }
    }

    public func createAccount(name: String, passwordHash: String, now: UInt64) throws {
        try database.write { db in
            guard try Row.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM account WHERE name = ?"),
                arguments: [name]) == nil else {
                throw StoreError.conflict("account \(name) exists")
            }
            try db.cachedStatement(sql: "INSERT INTO account (name, passwordHash, createdAtMillis) VALUES (?, ?, ?)")
                .execute(arguments: [name, passwordHash, Int64(now)])
        }
    }

    public func passwordHash(account: String) throws -> String? {
        try readingOne { db in
            try String.fetchOne(db.cachedStatement(sql: "SELECT passwordHash FROM account WHERE name = ?"), arguments: [account])
        }
    }

    public func registerDevice(_ r: DeviceRegistration, now: UInt64) throws -> DeviceRecord {
        try database.write { db in
            let addresses = Self.join(r.addresses)
            if let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM device WHERE key = ?"),
                arguments: [Data(r.key)]) {
                let existing = Self.device(row)
                guard existing.account == r.account else {
                    throw StoreError.conflict("device key belongs to another account")
                }
                guard row["revoked"] as Int == 0 else { throw StoreError.revoked(existing.id) }
                try db.cachedStatement(sql: """
                    UPDATE device SET name = ?, clientVersion = ?, addresses = ?, publicAddresses = '', lastSeenMillis = ?
                    WHERE id = ?
                    """).execute(arguments: [r.name, r.clientVersion, addresses, Int64(now), existing.id])
                return DeviceRecord(id: existing.id, account: r.account, terminalType: existing.terminalType, name: r.name,
                                    key: r.key, clientVersion: r.clientVersion, addresses: r.addresses,
                                    createdAtMillis: existing.createdAtMillis, lastSeenMillis: now)
            }
            let ordinal = try Int.fetchOne(db.cachedStatement(sql: """
                SELECT COALESCE(MAX(ordinal), 0) + 1 FROM device WHERE account = ? AND typeCode = ?
                """), arguments: [r.account, r.typeCode]) ?? 1
            let id = "\(r.account)-\(r.typeCode)-\(ordinal)"
            try db.cachedStatement(sql: """
                INSERT INTO device (id, account, terminalType, typeCode, ordinal, name, key, clientVersion, addresses,
                                    createdAtMillis, lastSeenMillis)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """).execute(arguments: [id, r.account, Int(r.terminalType.rawValue), r.typeCode, ordinal, r.name, Data(r.key),
                                 r.clientVersion, addresses, Int64(now), Int64(now)])
            return DeviceRecord(id: id, account: r.account, terminalType: r.terminalType, name: r.name, key: r.key,
                                clientVersion: r.clientVersion, addresses: r.addresses, createdAtMillis: now,
                                lastSeenMillis: now)
        }
    }

    public func device(id: String) throws -> DeviceRecord? {
        try readingOne { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM device WHERE id = ? AND revoked = 0"),
                arguments: [id]).map(Self.device)
        }
    }

    public func devices(account: String) throws -> [DeviceRecord] {
        try readingOne { db in
            try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM device WHERE account = ? AND revoked = 0 ORDER BY typeCode, ordinal"),
                             arguments: [account]).map(Self.device)
        }
    }

    public func touch(deviceID: String, now: UInt64) throws {
        try database.write { db in
            try db.cachedStatement(sql: "UPDATE device SET lastSeenMillis = ? WHERE id = ?")
                .execute(arguments: [Int64(now), deviceID])
        }
    }

    public func updateAddresses(deviceID: String, addresses: [String], publicAddresses: [String]) throws {
        try database.write { db in
            try db.cachedStatement(sql: "UPDATE device SET addresses = ?, publicAddresses = ? WHERE id = ?")
                .execute(arguments: [Self.join(addresses), Self.join(publicAddresses), deviceID])
        }
    }

    public func createSession(tokenHash: [UInt8], deviceID: String, expiresAtMillis: UInt64) throws {
        try database.write { db in
            try db.cachedStatement(sql: "INSERT INTO session (tokenHash, deviceID, expiresAtMillis) VALUES (?, ?, ?)")
                .execute(arguments: [Data(tokenHash), deviceID, Int64(expiresAtMillis)])
        }
    }

    public func session(tokenHash: [UInt8]) throws -> SessionRecord? {
        try readingOne { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM session WHERE tokenHash = ?"),
                arguments: [Data(tokenHash)]).map {
                SessionRecord(deviceID: $0["deviceID"], expiresAtMillis: UInt64($0["expiresAtMillis"] as Int64),
                              revoked: $0["revoked"] as Bool)
            }
        }
    }

    public func revokeSession(tokenHash: [UInt8]) throws {
        try database.write { db in
            try db.cachedStatement(sql: "UPDATE session SET revoked = 1 WHERE tokenHash = ?")
                .execute(arguments: [Data(tokenHash)])
        }
    }

    public func commitRelays(_ items: [RelayItem], deleting acknowledged: [(id: Int64, to: String)], quota: RelayQuota?,
                             now: UInt64) throws -> [RelayOutcome] {
        try database.write { db in
            // Deletions first: they make room under the quota for the group's items.
            for (id, to) in acknowledged {
                try db.cachedStatement(sql: "DELETE FROM relay WHERE id = ? AND receiver = ?").execute(arguments: [id, to])
            }
            func usage(_ device: String, _ role: String) throws -> RelayQuota.Usage {
                let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT count, bytes FROM relay_usage WHERE device = ? AND role = ?"),
                                           arguments: [device, role])
                return RelayQuota.Usage(count: row?["count"] ?? 0, bytes: row?["bytes"] ?? 0)
            }
            return try items.map { item in
                if let quota, let refusal = quota.refusal(adding: item.payload.count, to: item.to, waiting: try usage(item.to, "receiver"),
                                                          from: item.from, queued: try usage(item.from, "sender")) {
                    return .refused(refusal)
                }
                do {
                    let insert = try db.cachedStatement(sql: """
                        INSERT INTO relay (sender, receiver, payload, code, scope, fromAccount, createdAtMillis) VALUES (?, ?, ?, ?, ?, ?, ?)
                        """)
                    try insert.execute(arguments: [item.from, item.to, Data(item.payload), item.code, item.scope, item.fromAccount,
                                                   Int64(now)])
                } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
                    return .receiverGone  // only this statement is undone; the group commits
                }
                return .stored(id: db.lastInsertedRowID)
            }
        }
    }

    public func pendingRelays(to: String, after: Int64, limit: Int) throws -> [RelayRecord] {
        try readingOne { db in
            try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM relay WHERE receiver = ? AND id > ? ORDER BY id LIMIT ?"),
                             arguments: [to, after, limit]).map {
                RelayRecord(id: $0["id"], from: $0["sender"], to: $0["receiver"], payload: [UInt8]($0["payload"] as Data),
                            code: $0["code"], scope: $0["scope"], fromAccount: $0["fromAccount"])
            }
        }
    }

    public func messageCode(sender: String, messageID: [UInt8], now: UInt64) throws -> Int64 {
        try database.write { db in
            if let code = try Int64.fetchOne(db.cachedStatement(sql: "SELECT code FROM message_code WHERE sender = ? AND messageID = ?"),
                                             arguments: [sender, Data(messageID)]) {
                return code
            }
            try db.cachedStatement(sql: "INSERT INTO message_code (sender, messageID, createdAtMillis) VALUES (?, ?, ?)")
                .execute(arguments: [sender, Data(messageID), Int64(now)])
            return db.lastInsertedRowID
        }
    }

    // MARK: - Contacts

    public func contacts(account: String) throws -> [ContactRecord] {
        try readingOne { db in
            try Row.fetchAll(db.cachedStatement(sql: """
                SELECT CASE WHEN low = ? THEN high ELSE low END AS other, requester, accepted
                FROM contact WHERE low = ? OR high = ? ORDER BY other
                """), arguments: [account, account, account]).map { row in
                let state: ContactState = row["accepted"] as Bool ? .contact
                    : (row["requester"] as String) == account ? .requested : .incoming
                return ContactRecord(account: row["other"], state: state)
            }
        }
    }

    public func requestContact(from: String, to: String, now: UInt64) throws -> ContactState {
        try database.write { db in
            guard try Row.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM account WHERE name = ?"), arguments: [to]) != nil else {
                throw StoreError.notFound("no account \(to)")
            }
            let (low, high) = Self.ordered(from, to)
            let theirs = try Int.fetchOne(db.cachedStatement(sql: "SELECT COUNT(*) FROM contact WHERE low = ? OR high = ?"),
                                          arguments: [to, to]) ?? 0
            if theirs >= ContactRecord.maxPerAccount,
               try Row.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM contact WHERE low = ? AND high = ?"),
                   arguments: [low, high]) == nil {
                throw StoreError.conflict("\(to) has as many contacts and requests as an account may have")
            }
            if let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT requester, accepted FROM contact WHERE low = ? AND high = ?"),
                                          arguments: [low, high]) {
                if row["accepted"] as Bool { return .contact }
                if (row["requester"] as String) == from { return .requested }
                try db.cachedStatement(sql: "UPDATE contact SET accepted = 1 WHERE low = ? AND high = ?")
                    .execute(arguments: [low, high])
                return .contact
            }
            try db.cachedStatement(sql: "INSERT INTO contact (low, high, requester, createdAtMillis) VALUES (?, ?, ?, ?)")
                .execute(arguments: [low, high, from, Int64(now)])
            return .requested
        }
    }

    public func acceptContact(account: String, requester: String) throws {
        try database.write { db in
            let (low, high) = Self.ordered(account, requester)
            try db.cachedStatement(sql: "UPDATE contact SET accepted = 1 WHERE low = ? AND high = ? AND requester = ?")
                .execute(arguments: [low, high, requester])
            guard db.changesCount > 0 else { throw StoreError.notFound("no request from \(requester)") }
        }
    }

    public func removeContact(_ a: String, _ b: String) throws -> Bool {
        try database.write { db in
            let (low, high) = Self.ordered(a, b)
            try db.cachedStatement(sql: "DELETE FROM contact WHERE low = ? AND high = ?").execute(arguments: [low, high])
            return db.changesCount > 0
        }
    }

    static func ordered(_ a: String, _ b: String) -> (String, String) { a < b ? (a, b) : (b, a) }

    private static func device(_ row: Row) -> DeviceRecord {
        DeviceRecord(id: row["id"], account: row["account"], terminalType: TerminalType(rawValue: UInt8(row["terminalType"] as Int)),
                     name: row["name"], key: [UInt8](row["key"] as Data), clientVersion: row["clientVersion"],
                     addresses: split(row["addresses"]), publicAddresses: split(row["publicAddresses"]), createdAtMillis: UInt64(row["createdAtMillis"] as Int64),
                     lastSeenMillis: UInt64(row["lastSeenMillis"] as Int64))
    }

    /// Addresses are HOST:PORT strings without spaces (checked on the wire), kept space-separated.
    private static func join(_ addresses: [String]) -> String { addresses.joined(separator: " ") }
    private static func split(_ text: String) -> [String] { text.split(separator: " ").map(String.init) }
}
