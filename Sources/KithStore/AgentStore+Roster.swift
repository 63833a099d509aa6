import Foundation
import GRDB

/// The signed roster and policies this device accepted, kept exactly as received, so the agent
/// restores its books without replaying the chain that led to them (Protocol/roster.md).
extension AgentStore {
    public func roster() throws -> [UInt8]? {
        try database.read { db in
            try Data.fetchOne(db, sql: "SELECT document FROM signed_document WHERE kind = 1 AND subject = ''").map { [UInt8]($0) }
        }
    }

    /// Stores the held roster. Called before the agent acts on it.
    public func saveRoster(_ document: [UInt8]) throws {
        try database.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO signed_document (kind, subject, document) VALUES (1, '', ?)",
                           arguments: [Data(document)])
        }
    }

    public func policies() throws -> [[UInt8]] {
        try database.read { db in
            try Data.fetchAll(db, sql: "SELECT document FROM signed_document WHERE kind = 2 ORDER BY subject").map { [UInt8]($0) }
        }
    }

    public func savePolicy(deviceID: String, _ document: [UInt8]) throws {
        try database.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO signed_document (kind, subject, document) VALUES (2, ?, ?)",
                           arguments: [deviceID, Data(document)])
        }
    }

    /// Forgets the roster and policies: a login to another account starts from nothing.
    public func clearDocuments() throws {
        try database.write { db in try db.execute(sql: "DELETE FROM signed_document") }
    }

    /// Drops queued items to devices that may no longer have them (not in the roster).
    @discardableResult
    public func dropOutgoing(to receivers: Set<String>) throws -> Int {
        guard !receivers.isEmpty else { return 0 }
        return try database.write { db in
            try db.execute(sql: "DELETE FROM outbox WHERE relayed = 0 AND receiver IN (\(receivers.map { _ in "?" }.joined(separator: ",")))",
                           arguments: StatementArguments(Array(receivers)))
            return db.changesCount
        }
    }

    /// Deletes the text of every viewed message (a policy with keepHistory false): the code and
    /// the read state stay.
    @discardableResult
    public func forgetViewedText() throws -> Int {
        try database.write { db in
            try db.execute(sql: "UPDATE message SET text = '' WHERE viewedAtMillis IS NOT NULL AND text != ''")
            return db.changesCount
        }
    }
}
