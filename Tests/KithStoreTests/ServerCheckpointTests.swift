import Foundation
import GRDB
import KithTestSupport
import Testing
@testable import KithStore

/// The server's writer leaves the write-ahead log to `checkpointInBackground` (its own connection,
/// the server's own thread), so no relay group's commit pays for a checkpoint; past a backstop
/// it still checkpoints itself.
@Suite struct ServerCheckpointTests {
    @Test func theBackgroundCheckpointFoldsTheLogTheWriterLeaves() throws {
        let store = try ServerStoreTests.sqliteStore()
        #expect(try store.database.write { try Int.fetchOne($0, sql: "PRAGMA wal_autocheckpoint") } == 16_384)
        try store.createAccount(name: "alice", passwordHash: "h", now: 1)
        for key in UInt8(1)...20 { _ = try store.registerDevice(ServerStoreTests.registration(key), now: 2) }

        try store.checkpointInBackground()
        // Everything in the log is in the database file now: a second pass finds nothing left.
        let row = try store.checkpointer.writeWithoutTransaction { try Row.fetchOne($0, sql: "PRAGMA wal_checkpoint(PASSIVE)") }
        let (busy, logFrames, checkpointed): (Int, Int, Int) = (row?[0] ?? -1, row?[1] ?? -1, row?[2] ?? -2)
        #expect(busy == 0 && logFrames > 0 && checkpointed == logFrames, "busy \(busy), log \(logFrames), checkpointed \(checkpointed)")
        #expect(try store.devices(account: "alice").count == 20)
    }
}
