import Foundation
import KithStore
import KithTestSupport

/// A new server store in its own temporary folder, with the account alice: where the server's
/// actors are tested against real SQLite.
func aliceStore(_ folder: String) throws -> SQLiteServerStore {
    let store = try SQLiteServerStore(path: temporaryDirectory(folder).appendingPathComponent("server.sqlite").path)
    try store.createAccount(name: "alice", passwordHash: "h", now: 1)
    return store
}
