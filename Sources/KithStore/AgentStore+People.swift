import Foundation
import GRDB

/// The merged contacts (`PeopleBook`, Protocol/xmpp.md §People) as one JSON document: the
/// profile's, over all its networks. Written whole at every change; a book of a few thousand
/// endpoints is a few hundred KB, and people change at the user's pace.
extension AgentStore {
    public func peopleBook() throws -> Data? {
        try reading { db in try Data.fetchOne(db, sql: "SELECT value FROM setting WHERE key = 'people'") }
    }

    public func savePeopleBook(_ document: Data) throws {
        try database.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO setting (key, value) VALUES ('people', ?)", arguments: [document])
        }
    }
}
