import KithStore
import PostgresNIO

/// Rosters, policies and revoked devices (Protocol/roster.md §Distribution, §Revoke), and links
/// between accounts (Protocol/links.md §Links): as `SQLiteServerStore` keeps them.
extension PostgresServerStore {
    public func firstDeviceID(account: String) throws -> String? {
        try autocommit { try $0.value("SELECT id FROM device WHERE account = \(account) ORDER BY createdAtMillis, registered LIMIT 1", as: String.self) }
    }

    public func rosters(account: String) throws -> [[UInt8]] {
        try autocommit { db in
            try db.rows("""
                SELECT document FROM roster WHERE account = \(account)
                AND (kept OR seq = (SELECT MAX(seq) FROM roster WHERE account = \(account))) ORDER BY seq
                """).map { Array(try $0.decode(ByteBuffer.self).readableBytesView) }
        }
    }

    public func latestRoster(account: String) throws -> [UInt8]? {
        try autocommit { db in
            try db.value("SELECT document FROM roster WHERE account = \(account) ORDER BY seq DESC LIMIT 1", as: ByteBuffer.self)
                .map { Array($0.readableBytesView) }
        }
    }

    public func storeRoster(account: String, document: [UInt8], kept: Bool) throws {
        try transaction { db in
            try db.execute("DELETE FROM roster WHERE account = \(account) AND NOT kept")
            try db.execute("INSERT INTO roster (account, document, kept) VALUES (\(account), \(Self.bytes(document)), \(kept))")
        }
    }

    public func policies(account: String) throws -> [(deviceID: String, document: [UInt8])] {
        try autocommit { db in
            try db.rows("SELECT deviceID, document FROM policy WHERE account = \(account) ORDER BY deviceID").map { row in
                let (device, document) = try row.decode((String, ByteBuffer).self)
                return (device, Array(document.readableBytesView))
            }
        }
    }

    public func storePolicy(account: String, deviceID: String, document: [UInt8]) throws {
        try autocommit { db in
            try db.execute("""
                INSERT INTO policy (deviceID, account, document) VALUES (\(deviceID), \(account), \(Self.bytes(document)))
                ON CONFLICT (deviceID) DO UPDATE SET account = excluded.account, document = excluded.document
                """)
        }
    }

    public func revokeDevice(id: String) throws {
        try transaction { db in
            guard try db.execute("UPDATE device SET revoked = true, addresses = '', publicAddresses = '' WHERE id = \(id) AND NOT revoked") > 0 else {
                throw StoreError.notFound("there is no device \(id)")
            }
            try db.execute("UPDATE session SET revoked = true WHERE deviceID = \(id)")
            try db.execute("DELETE FROM relay WHERE receiver = \(id)")
            try db.execute("DELETE FROM policy WHERE deviceID = \(id)")
        }
    }

    // MARK: - Links

    public func link(master: String, linked: String, now: UInt64) throws {
        try transaction { db in
            guard try db.rows("SELECT 1 FROM account_link WHERE linked = \(linked)").isEmpty else {
                throw StoreError.conflict("\(linked) is linked already")
            }
            try db.execute("INSERT INTO account_link (linked, master, createdAtMillis) VALUES (\(linked), \(master), \(Int64(now)))")
        }
    }

    public func removeLink(master: String, linked: String) throws -> Bool {
        try autocommit { try $0.execute("DELETE FROM account_link WHERE linked = \(linked) AND master = \(master)") == 1 }
    }

    public func master(of account: String) throws -> String? {
        try autocommit { try $0.value("SELECT master FROM account_link WHERE linked = \(account)", as: String.self) }
    }

    public func linkedAccounts(of master: String) throws -> [String] {
        try autocommit { try $0.rows("SELECT linked FROM account_link WHERE master = \(master) ORDER BY linked").map { try $0.decode(String.self) } }
    }

    public func setMaster(_ newMaster: String, replacing oldMaster: String, now: UInt64) throws {
        try transaction { db in
            guard try db.execute("DELETE FROM account_link WHERE linked = \(newMaster) AND master = \(oldMaster)") == 1 else {
                throw StoreError.notFound("\(newMaster) is not linked under \(oldMaster)")
            }
            try db.execute("UPDATE account_link SET master = \(newMaster) WHERE master = \(oldMaster)")
            try db.execute("INSERT INTO account_link (linked, master, createdAtMillis) VALUES (\(oldMaster), \(newMaster), \(Int64(now)))")
        }
    }
}
