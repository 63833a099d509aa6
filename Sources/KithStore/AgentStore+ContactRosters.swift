import Foundation
import GRDB

/// Contacts' roster chains as this device pinned them (Protocol/roster.md §Contacts' rosters):
/// what the agent restores its contact books from. Documents are kept exactly as received.
extension AgentStore {
    public struct ContactRoster: Sendable, Equatable {
        public var account: String
        public var document: [UInt8]
        public var verified: Bool
        /// The primary keys the chain has had, 32 bytes each, in the order they were seen.
        public var primaries: [[UInt8]]
        public var pending: [UInt8]?

        public init(account: String, document: [UInt8], verified: Bool, primaries: [[UInt8]], pending: [UInt8]?) {
            self.account = account
            self.document = document
            self.verified = verified
            self.primaries = primaries
            self.pending = pending
        }
    }

    public func contactRosters() throws -> [ContactRoster] {
        try reading { db in
            try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM contact_roster WHERE owner = ? ORDER BY account"), arguments: [owner]).map { row in
                let primaries = [UInt8](row["primaries"] as Data)
                return ContactRoster(account: row["account"], document: [UInt8](row["document"] as Data), verified: row["verified"],
                                     primaries: stride(from: 0, to: primaries.count - primaries.count % 32, by: 32).map {
                                         Array(primaries[$0..<$0 + 32])
                                     },
                                     pending: (row["pending"] as Data?).map { [UInt8]($0) })
            }
        }
    }

    /// Stores a contact's book; called before the agent acts on what it accepted.
    public func saveContactRoster(_ roster: ContactRoster) throws {
        try database.write { db in
            try db.cachedStatement(sql: """
                INSERT OR REPLACE INTO contact_roster (owner, account, document, verified, primaries, pending) VALUES (?, ?, ?, ?, ?, ?)
                """).execute(arguments: [owner, roster.account, Data(roster.document), roster.verified, Data(roster.primaries.joined()),
                                 roster.pending.map { Data($0) }])
        }
    }

    /// Forgets every contact's roster: a login to another account starts from nothing.
    public func clearContactRosters() throws {
        try database.write { db in try db.cachedStatement(sql: "DELETE FROM contact_roster WHERE owner = ?").execute(arguments: [owner]) }
    }
}

extension AgentStore {
    /// Message copies waiting for a contact whose new keys the user accepted (Protocol/roster.md
    /// §Contacts' rosters): each message with a copy waiting for a device of `account` gets a copy
    /// for every device of `devices` it lacks, and loses its copies for the account's other
    /// devices. One commit; returns how many copies it added.
    @discardableResult
    public func readdressWaitingMessages(account: String, to devices: [String]) throws -> Int {
        let prefix = account + "-", owner = owner
        return try database.write { db in
            let waiting = try Row.fetchAll(db.cachedStatement(sql: """
                SELECT * FROM outbox WHERE owner = ? AND relayed = 0 AND kind = 'chat' AND substr(receiver, 1, ?) = ? ORDER BY seq
                """), arguments: [owner, prefix.utf8.count, prefix]).map(Self.outboxItem)
            var added: [OutboxItem] = []
            var done = Set<[UInt8]>()
            for item in waiting {
                guard let id = item.itemID, done.insert(id).inserted else { continue }
                let has = Set(waiting.filter { $0.itemID == id }.map(\.receiver))
                added += devices.filter { !has.contains($0) }.map {
                    OutboxItem(kind: .chat, receiver: $0, itemID: id, text: item.text, sentAtMillis: item.sentAtMillis)
                }
            }
            let gone = Set(waiting.map(\.receiver)).subtracting(devices)
            for receiver in gone {
                try db.cachedStatement(sql: "DELETE FROM outbox WHERE owner = ? AND relayed = 0 AND kind = 'chat' AND receiver = ?").execute(arguments: [owner, receiver])
            }
            _ = try Self.enqueue(added, owner: owner, db)
            return added.count
        }
    }
}
