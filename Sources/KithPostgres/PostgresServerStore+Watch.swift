import KithStore
import PostgresNIO

/// Watch sessions and the unread counts they show (spec §Watch sessions), and the operator's
/// account commands: as `SQLiteServerStore` keeps them.
extension PostgresServerStore {
    public func acceptedContacts(of account: String, among: [String]) throws -> Set<String> {
        try autocommit { db in
            Set(try among.filter { other in
                let (low, high) = Self.ordered(account, other)
                return try db.value("SELECT accepted FROM contact WHERE low = \(low) AND high = \(high)", as: Bool.self) ?? false
            })
        }
    }

    public func createWatchSession(tokenHash: [UInt8], account: String, expiresAtMillis: UInt64) throws {
        try autocommit { db in
            try db.execute("""
                INSERT INTO watch_session (tokenHash, account, expiresAtMillis) VALUES (\(Self.bytes(tokenHash)), \(account), \(Int64(expiresAtMillis)))
                """)
        }
    }

    public func watchSession(tokenHash: [UInt8], now: UInt64) throws -> (account: String, expiresAtMillis: UInt64)? {
        try autocommit { db in
            try db.rows("""
                SELECT account, expiresAtMillis FROM watch_session
                WHERE tokenHash = \(Self.bytes(tokenHash)) AND NOT revoked AND expiresAtMillis > \(Int64(now))
                """).first.map { row in
                let (account, expires) = try row.decode((String, Int64).self)
                return (account, UInt64(expires))
            }
        }
    }

    @discardableResult
    public func revokeWatchSessions(account: String) throws -> Int {
        try autocommit { try $0.execute("UPDATE watch_session SET revoked = true WHERE account = \(account) AND NOT revoked") }
    }

    public func recordWatchedMessage(account: String, contact: String, code: Int64) throws {
        try autocommit { db in
            try db.execute("INSERT INTO watch_message (account, contact, code) VALUES (\(account), \(contact), \(code)) ON CONFLICT DO NOTHING")
        }
    }

    public func recordUnreadReport(account: String, contact: String, upToCode: Int64, unread: Int) throws {
        try transaction { db in
            try db.execute("""
                INSERT INTO watch_report (account, contact, upToCode, unread) VALUES (\(account), \(contact), \(upToCode), \(unread))
                ON CONFLICT (account, contact) DO UPDATE SET upToCode = excluded.upToCode, unread = excluded.unread
                WHERE excluded.upToCode >= watch_report.upToCode
                """)
            // What the report covers is counted in it from now on.
            try db.execute("""
                DELETE FROM watch_message WHERE account = \(account) AND contact = \(contact)
                    AND code <= (SELECT upToCode FROM watch_report WHERE account = \(account) AND contact = \(contact))
                """)
        }
    }

    public func unreadCounts(account: String, contacts: [String]) throws -> [String: Int] {
        try transaction { db in
            var counts: [String: Int] = [:]
            for contact in contacts {
                let reported = try db.rows("SELECT upToCode, unread FROM watch_report WHERE account = \(account) AND contact = \(contact)")
                    .first.map { try $0.decode((Int64, Int).self) }
                let newer = try db.value("""
                    SELECT count(*) FROM watch_message WHERE account = \(account) AND contact = \(contact) AND code > \(reported?.0 ?? 0)
                    """, as: Int.self) ?? 0
                counts[contact] = (reported?.1 ?? 0) + newer
            }
            return counts
        }
    }

    // MARK: - Server instances

    public func recordInstance(_ report: InstanceReport) throws {
        try autocommit { db in
            try db.execute("""
                INSERT INTO server_instance VALUES (\(report.id), \(report.address), \(Int64(report.startedAtMillis)),
                                                    \(Int64(report.seenAtMillis)), \(report.sessions))
                ON CONFLICT (id) DO UPDATE SET address = excluded.address, seenAtMillis = excluded.seenAtMillis,
                                               sessions = excluded.sessions
                """)
        }
    }

    public func instances(seenSince since: UInt64) throws -> [InstanceReport] {
        try autocommit { db in
            try db.rows("""
                SELECT id, address, startedAtMillis, seenAtMillis, sessions FROM server_instance
                WHERE seenAtMillis >= \(Int64(since)) ORDER BY address, id
                """).map { row in
                let (id, address, started, seen, sessions) = try row.decode((String, String, Int64, Int64, Int).self)
                return InstanceReport(id: id, address: address, startedAtMillis: UInt64(started), seenAtMillis: UInt64(seen),
                                      sessions: sessions)
            }
        }
    }

    // MARK: - The operator's account commands

    public func accountSummaries() throws -> [ServerAccountSummary] {
        try autocommit { db in
            try db.rows("""
                SELECT a.name, a.createdAtMillis, (SELECT COUNT(*) FROM device d WHERE d.account = a.name AND NOT d.revoked)
                FROM account a ORDER BY a.name
                """).map { row in
                let (name, created, devices) = try row.decode((String, Int64, Int).self)
                return ServerAccountSummary(name: name, createdAtMillis: UInt64(created), devices: devices)
            }
        }
    }

    public func setPasswordHash(account: String, _ hash: String) throws {
        try autocommit { db in
            guard try db.execute("UPDATE account SET passwordHash = \(hash) WHERE name = \(account)") == 1 else {
                throw StoreError.notFound("there is no account \(account)")
            }
        }
    }

    public func removeAccount(_ name: String) throws {
        try transaction { db in
            guard try !db.rows("SELECT 1 FROM account WHERE name = \(name)").isEmpty else { throw StoreError.notFound("there is no account \(name)") }
            try db.execute("DELETE FROM session WHERE deviceID IN (SELECT id FROM device WHERE account = \(name))")
            try db.execute("DELETE FROM relay WHERE receiver IN (SELECT id FROM device WHERE account = \(name))")
            try db.execute("DELETE FROM policy WHERE account = \(name)")
            try db.execute("DELETE FROM roster WHERE account = \(name)")
            try db.execute("DELETE FROM contact WHERE low = \(name) OR high = \(name)")
            try db.execute("DELETE FROM account_link WHERE linked = \(name) OR master = \(name)")
            try db.execute("DELETE FROM device WHERE account = \(name)")
            try db.execute("DELETE FROM account WHERE name = \(name)")
        }
    }
}
