import Foundation
import GRDB

/// Watch sessions and the unread counts they show (spec §Watch sessions).
extension SQLiteServerStore {
    public func acceptedContacts(of account: String, among: [String]) throws -> Set<String> {
        try database.read { db in
            Set(try among.filter { other in
                let (low, high) = Self.ordered(account, other)
                return try Bool.fetchOne(db.cachedStatement(sql: "SELECT accepted FROM contact WHERE low = ? AND high = ?"),
                    arguments: [low, high]) ?? false
            })
        }
    }

    public func createWatchSession(tokenHash: [UInt8], account: String, expiresAtMillis: UInt64) throws {
        try database.write { db in
            try db.cachedStatement(sql: "INSERT INTO watch_session (tokenHash, account, expiresAtMillis) VALUES (?, ?, ?)")
                .execute(arguments: [Data(tokenHash), account, Int64(expiresAtMillis)])
        }
    }

    public func watchSession(tokenHash: [UInt8], now: UInt64) throws -> (account: String, expiresAtMillis: UInt64)? {
        try readingOne { db in
            try Row.fetchOne(db.cachedStatement(sql: """
                SELECT account, expiresAtMillis FROM watch_session WHERE tokenHash = ? AND revoked = 0 AND expiresAtMillis > ?
                """), arguments: [Data(tokenHash), Int64(now)]).map { ($0["account"], UInt64($0["expiresAtMillis"] as Int64)) }
        }
    }

    @discardableResult
    public func revokeWatchSessions(account: String) throws -> Int {
        try database.write { db in
            try db.cachedStatement(sql: "UPDATE watch_session SET revoked = 1 WHERE account = ? AND revoked = 0")
                .execute(arguments: [account])
            return db.changesCount
        }
    }

    public func recordWatchedMessage(account: String, contact: String, code: Int64) throws {
        try database.write { db in
            try db.cachedStatement(sql: "INSERT OR IGNORE INTO watch_message (account, contact, code) VALUES (?, ?, ?)")
                .execute(arguments: [account, contact, code])
        }
    }

    public func recordUnreadReport(account: String, contact: String, upToCode: Int64, unread: Int) throws {
        try database.write { db in
            try db.cachedStatement(sql: """
                INSERT INTO watch_report (account, contact, upToCode, unread) VALUES (?, ?, ?, ?)
                ON CONFLICT (account, contact) DO UPDATE SET upToCode = excluded.upToCode, unread = excluded.unread
                WHERE excluded.upToCode >= watch_report.upToCode
                """).execute(arguments: [account, contact, upToCode, unread])
            // What the report covers is counted in it from now on.
            try db.cachedStatement(sql: """
                DELETE FROM watch_message WHERE account = ? AND contact = ?
                    AND code <= (SELECT upToCode FROM watch_report WHERE account = ? AND contact = ?)
                """).execute(arguments: [account, contact, account, contact])
        }
    }

    public func unreadCounts(account: String, contacts: [String]) throws -> [String: Int] {
        try database.read { db in
            var counts: [String: Int] = [:]
            for contact in contacts {
                let reported = try Row.fetchOne(db.cachedStatement(sql: "SELECT upToCode, unread FROM watch_report WHERE account = ? AND contact = ?"),
                                                arguments: [account, contact])
                let after: Int64 = reported?["upToCode"] ?? 0
                let newer = try Int.fetchOne(db.cachedStatement(sql: """
                    SELECT count(*) FROM watch_message WHERE account = ? AND contact = ? AND code > ?
                    """), arguments: [account, contact, after]) ?? 0
                counts[contact] = (reported?["unread"] ?? 0) + newer
            }
            return counts
        }
    }
}
