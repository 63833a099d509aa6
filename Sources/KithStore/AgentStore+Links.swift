import Foundation
import GRDB

/// The current account's links as its server last sent them (Protocol/links.md §The link list),
/// so `kith accounts` can say them while the server is away.
extension AgentStore {
    public struct Links: Codable, Sendable, Equatable {
        public var master: String?
        public var linked: [String]

        public init(master: String? = nil, linked: [String] = []) {
            self.master = master
            self.linked = linked
        }
    }

    public func links() throws -> Links {
        try reading { db in
            guard let data = try Data.fetchOne(db.cachedStatement(sql: "SELECT value FROM setting WHERE key = ?"), arguments: [revisionKey("links")])
            else { return Links() }
            return try JSONDecoder().decode(Links.self, from: data)
        }
    }

    /// Stores `links`; true if they differ from the ones held.
    @discardableResult
    public func saveLinks(_ links: Links) throws -> Bool {
        guard try self.links() != links else { return false }
        let data = try JSONEncoder().encode(links)
        try database.write { db in
            try db.cachedStatement(sql: "INSERT OR REPLACE INTO setting (key, value) VALUES (?, ?)").execute(arguments: [revisionKey("links"), data])
        }
        return true
    }
}
