import Foundation
import GRDB

/// The operator's account commands (`kith server account list`, `passwd`, `remove`), run on the
/// server's machine against its store.
extension SQLiteServerStore {
    public func accountSummaries() throws -> [ServerAccountSummary] {
        try readingOne { db in
            try Row.fetchAll(db.cachedStatement(sql: """
                SELECT a.name, a.createdAtMillis, (SELECT COUNT(*) FROM device d WHERE d.account = a.name AND d.revoked = 0) AS devices
                FROM account a ORDER BY a.name
                """)).map { ServerAccountSummary(name: $0["name"], createdAtMillis: UInt64($0["createdAtMillis"] as Int64), devices: $0["devices"]) }
        }
    }

    public func setPasswordHash(account: String, _ hash: String) throws {
        try database.write { db in
            try db.cachedStatement(sql: "UPDATE account SET passwordHash = ? WHERE name = ?").execute(arguments: [hash, account])
            guard db.changesCount == 1 else { throw StoreError.notFound("there is no account \(account)") }
        }
    }

    public func removeAccount(_ name: String) throws {
        try database.write { db in
            guard try Row.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM account WHERE name = ?"),
                arguments: [name]) != nil else {
                throw StoreError.notFound("there is no account \(name)")
            }
            let devices = "SELECT id FROM device WHERE account = ?"
            try db.cachedStatement(sql: "DELETE FROM session WHERE deviceID IN (\(devices))").execute(arguments: [name])
            try db.cachedStatement(sql: "DELETE FROM relay WHERE receiver IN (\(devices))").execute(arguments: [name])
            try db.cachedStatement(sql: "DELETE FROM policy WHERE account = ?").execute(arguments: [name])
            try db.cachedStatement(sql: "DELETE FROM roster WHERE account = ?").execute(arguments: [name])
            try db.cachedStatement(sql: "DELETE FROM contact WHERE low = ? OR high = ?").execute(arguments: [name, name])
            try db.cachedStatement(sql: "DELETE FROM account_link WHERE linked = ? OR master = ?")
                .execute(arguments: [name, name])
            try db.cachedStatement(sql: "DELETE FROM device WHERE account = ?").execute(arguments: [name])
            try db.cachedStatement(sql: "DELETE FROM account WHERE name = ?").execute(arguments: [name])
        }
    }
}
