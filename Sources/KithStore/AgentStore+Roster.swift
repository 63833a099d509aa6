import Foundation
import GRDB
import KithWire

/// The signed roster and policies this device accepted, kept exactly as received, so the agent
/// restores its books without replaying the chain that led to them (Protocol/roster.md).
extension AgentStore {
    public func roster() throws -> [UInt8]? {
        try reading { db in
            try Data.fetchOne(db.cachedStatement(sql: "SELECT document FROM signed_document WHERE owner = ? AND kind = ? AND subject = ''"),
                              arguments: [owner, Self.kind(.roster)]).map { [UInt8]($0) }
        }
    }

    /// Stores the held roster. Called before the agent acts on it.
    public func saveRoster(_ document: [UInt8]) throws {
        try database.write { db in
            try db.cachedStatement(sql: "INSERT OR REPLACE INTO signed_document (owner, kind, subject, document) VALUES (?, ?, '', ?)").execute(arguments: [owner, Self.kind(.roster), Data(document)])
        }
    }

    public func policies() throws -> [[UInt8]] {
        try reading { db in
            try Data.fetchAll(db.cachedStatement(sql: "SELECT document FROM signed_document WHERE owner = ? AND kind = ? ORDER BY subject"),
                              arguments: [owner, Self.kind(.policy)]).map { [UInt8]($0) }
        }
    }

    public func savePolicy(deviceID: String, _ document: [UInt8]) throws {
        try database.write { db in
            try db.cachedStatement(sql: "INSERT OR REPLACE INTO signed_document (owner, kind, subject, document) VALUES (?, ?, ?, ?)").execute(arguments: [owner, Self.kind(.policy), deviceID, Data(document)])
        }
    }

    /// The `signed_document.kind` column holds the document's `SignedDocument.kind` byte.
    private static func kind(_ kind: DocumentKind) -> Int { Int(kind.rawValue) }

    /// Forgets the roster and policies: a login to another account starts from nothing.
    public func clearDocuments() throws {
        try database.write { db in try db.cachedStatement(sql: "DELETE FROM signed_document WHERE owner = ?").execute(arguments: [owner]) }
    }

    /// Drops queued items to devices that may no longer have them (not in the roster).
    @discardableResult
    public func dropOutgoing(to receivers: Set<String>) throws -> Int {
        guard !receivers.isEmpty else { return 0 }
        return try database.write { db in
            try db.execute(sql: """
                DELETE FROM outbox WHERE owner = ? AND relayed = 0 AND receiver IN (\(receivers.map { _ in "?" }.joined(separator: ",")))
                """, arguments: StatementArguments([owner] + Array(receivers)))
            return db.changesCount
        }
    }

    /// Deletes the text of every viewed message (a policy with keepHistory false): the code and
    /// the read state stay.
    @discardableResult
    public func forgetViewedText() throws -> Int {
        try database.write { db in
            try db.cachedStatement(sql: "UPDATE message SET text = '' WHERE owner = ? AND viewedAtMillis IS NOT NULL AND text != ''").execute(arguments: [owner])
            return db.changesCount
        }
    }
}
