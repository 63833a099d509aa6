import Foundation
import GRDB

/// The account's signed rosters and policies, and revoked devices (Protocol/roster.md
/// §Distribution, §Revoke). The server stores documents; whether one may replace another is
/// decided before, by the same rules the devices apply.
extension SQLiteServerStore {
    public func firstDeviceID(account: String) throws -> String? {
        try readingOne { db in
            try String.fetchOne(db.cachedStatement(sql: "SELECT id FROM device WHERE account = ? ORDER BY createdAtMillis, rowid LIMIT 1"),
                                arguments: [account])
        }
    }

    public func rosters(account: String) throws -> [[UInt8]] {
        try readingOne { db in
            try Data.fetchAll(db.cachedStatement(sql: """
                SELECT document FROM roster WHERE account = ?
                AND (kept = 1 OR seq = (SELECT MAX(seq) FROM roster WHERE account = ?)) ORDER BY seq
                """), arguments: [account, account]).map { [UInt8]($0) }
        }
    }

    public func latestRoster(account: String) throws -> [UInt8]? {
        try readingOne { db in
            try Data.fetchOne(db.cachedStatement(sql: "SELECT document FROM roster WHERE account = ? ORDER BY seq DESC LIMIT 1"),
                              arguments: [account]).map { [UInt8]($0) }
        }
    }

    public func storeRoster(account: String, document: [UInt8], kept: Bool) throws {
        try database.write { db in
            try db.cachedStatement(sql: "DELETE FROM roster WHERE account = ? AND kept = 0").execute(arguments: [account])
            try db.cachedStatement(sql: "INSERT INTO roster (account, document, kept) VALUES (?, ?, ?)")
                .execute(arguments: [account, Data(document), kept])
        }
    }

    public func policies(account: String) throws -> [(deviceID: String, document: [UInt8])] {
        try readingOne { db in
            try Row.fetchAll(db.cachedStatement(sql: "SELECT deviceID, document FROM policy WHERE account = ? ORDER BY deviceID"),
                             arguments: [account]).map { ($0["deviceID"], [UInt8]($0["document"] as Data)) }
        }
    }

    public func storePolicy(account: String, deviceID: String, document: [UInt8]) throws {
        try database.write { db in
            try db.cachedStatement(sql: "INSERT OR REPLACE INTO policy (deviceID, account, document) VALUES (?, ?, ?)")
                .execute(arguments: [deviceID, account, Data(document)])
        }
    }

    public func revokeDevice(id: String) throws {
        try database.write { db in
            guard try Row.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM device WHERE id = ? AND revoked = 0"),
                arguments: [id]) != nil else {
                throw StoreError.notFound("there is no device \(id)")
            }
            try db.cachedStatement(sql: "UPDATE device SET revoked = 1, addresses = '', publicAddresses = '' WHERE id = ?")
                .execute(arguments: [id])
            try db.cachedStatement(sql: "UPDATE session SET revoked = 1 WHERE deviceID = ?").execute(arguments: [id])
            try db.cachedStatement(sql: "DELETE FROM relay WHERE receiver = ?").execute(arguments: [id])
            try db.cachedStatement(sql: "DELETE FROM policy WHERE deviceID = ?").execute(arguments: [id])
        }
    }
}
