import GRDB

/// Links between accounts (Protocol/links.md §Links): who is whose master.
extension SQLiteServerStore {
    public func link(master: String, linked: String, now: UInt64) throws {
        try database.write { db in
            guard try String.fetchOne(db.cachedStatement(sql: "SELECT master FROM account_link WHERE linked = ?"),
                arguments: [linked]) == nil else {
                throw StoreError.conflict("\(linked) is linked already")
            }
            try db.cachedStatement(sql: "INSERT INTO account_link (linked, master, createdAtMillis) VALUES (?, ?, ?)")
                .execute(arguments: [linked, master, Int64(now)])
        }
    }

    @discardableResult
    public func removeLink(master: String, linked: String) throws -> Bool {
        try database.write { db in
            try db.cachedStatement(sql: "DELETE FROM account_link WHERE linked = ? AND master = ?")
                .execute(arguments: [linked, master])
            return db.changesCount == 1
        }
    }

    public func master(of account: String) throws -> String? {
        try readingOne { db in
            try String.fetchOne(db.cachedStatement(sql: "SELECT master FROM account_link WHERE linked = ?"), arguments: [account])
        }
    }

    public func linkedAccounts(of master: String) throws -> [String] {
        try readingOne { db in
            try String.fetchAll(db.cachedStatement(sql: "SELECT linked FROM account_link WHERE master = ? ORDER BY linked"),
                arguments: [master])
        }
    }

    public func setMaster(_ newMaster: String, replacing oldMaster: String, now: UInt64) throws {
        try database.write { db in
            try db.cachedStatement(sql: "DELETE FROM account_link WHERE linked = ? AND master = ?")
                .execute(arguments: [newMaster, oldMaster])
            guard db.changesCount == 1 else { throw StoreError.notFound("\(newMaster) is not linked under \(oldMaster)") }
            try db.cachedStatement(sql: "UPDATE account_link SET master = ? WHERE master = ?")
                .execute(arguments: [newMaster, oldMaster])
            try db.cachedStatement(sql: "INSERT INTO account_link (linked, master, createdAtMillis) VALUES (?, ?, ?)")
                .execute(arguments: [oldMaster, newMaster, Int64(now)])
        }
    }
}
