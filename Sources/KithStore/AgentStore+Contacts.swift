import Foundation
import GRDB
import KithWire

/// Contacts (other accounts) and their devices, as the server last sent them.
extension AgentStore {
    public struct Contact: Sendable, Equatable {
        public var account: String
        /// As ContactInfo.state has it; stored as its byte.
        public var state: ContactState

        public init(account: String, state: ContactState) {
            self.account = account
            self.state = state
        }
    }

    /// Replaces the contact list if `revision` is newer than the one stored; devices of accounts
    /// that are no longer contacts are forgotten with it.
    @discardableResult
    public func replaceContacts(_ contacts: [Contact], revision: UInt64) throws -> Bool {
        try database.write { db in
            guard try Self.advance(revisionKey("contactListRevision"), to: revision, db) else { return false }
            try db.cachedStatement(sql: "DELETE FROM contact WHERE owner = ?").execute(arguments: [owner])
            for contact in contacts {
                try db.cachedStatement(sql: "INSERT OR REPLACE INTO contact (owner, account, state) VALUES (?, ?, ?)").execute(arguments: [owner, contact.account, Int(contact.state.rawValue)])
            }
            try db.cachedStatement(sql: """
                DELETE FROM contact_device WHERE owner = ? AND account NOT IN (SELECT account FROM contact WHERE owner = ? AND state = ?)
                """).execute(arguments: [owner, owner, Int(ContactState.contact.rawValue)])
            return true
        }
    }

    public func contacts() throws -> [Contact] {
        try reading { db in
            try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM contact WHERE owner = ? ORDER BY account"), arguments: [owner]).map {
                Contact(account: $0["account"], state: ContactState(rawValue: UInt8($0["state"] as Int)))
            }
        }
    }

    /// Replaces one contact's devices if `revision` is newer than the last list stored for it.
    @discardableResult
    public func replaceContactDevices(account: String, _ devices: [Device], revision: UInt64) throws -> Bool {
        try database.write { db in
            guard try Self.advance(revisionKey("contactDevicesRevision:\(account)"), to: revision, db) else { return false }
            try db.cachedStatement(sql: "DELETE FROM contact_device WHERE owner = ? AND account = ?").execute(arguments: [owner, account])
            try Self.insert(devices, owner: owner, account: account, db)
            return true
        }
    }

    /// The devices of one contact.
    public func contactDevices(account: String) throws -> [Device] {
        try reading { db in
            try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM contact_device WHERE owner = ? AND account = ? ORDER BY id"),
                             arguments: [owner, account])
                .map(Self.device)
        }
    }

    static func device(_ row: Row) -> Device {
        Device(id: row["id"], name: row["name"], terminalType: TerminalType(rawValue: UInt8(row["terminalType"] as Int)),
               key: [UInt8](row["key"] as Data), online: row["online"],
               lastSeenMillis: UInt64(row["lastSeenMillis"] as Int64), clientVersion: row["clientVersion"],
               addresses: split(row["addresses"]), publicAddresses: split(row["publicAddresses"]))
    }

    private static func split(_ text: String?) -> [String] { (text ?? "").split(separator: " ").map(String.init) }

    /// Stores `revision` under `key` if it is higher than the one there; false if it is not.
    static func advance(_ key: String, to revision: UInt64, _ db: Database) throws -> Bool {
        let current = try Int64.fetchOne(db.cachedStatement(sql: "SELECT value FROM setting WHERE key = ?"), arguments: [key]) ?? -1
        guard Int64(clamping: revision) > current else { return false }
        try db.cachedStatement(sql: "INSERT OR REPLACE INTO setting (key, value) VALUES (?, ?)").execute(arguments: [key, Int64(clamping: revision)])
        return true
    }
}
