import Foundation
import GRDB

/// File transfers, as the agent describes them: the store keeps each one's record (opaque JSON)
/// by id and knows only which are outgoing and which are finished.
extension AgentStore {
    public struct StoredTransfer: Sendable {
        public var id: [UInt8]
        public var outgoing: Bool
        public var finished: Bool
        public var createdMillis: UInt64
        public var record: Data

        public init(id: [UInt8], outgoing: Bool, finished: Bool, createdMillis: UInt64, record: Data) {
            self.id = id
            self.outgoing = outgoing
            self.finished = finished
            self.createdMillis = createdMillis
            self.record = record
        }
    }

    /// Inserts or replaces one transfer, committed before this returns. A new transfer belongs to
    /// the current account; an existing one keeps the account it was made under.
    public func saveTransfer(_ transfer: StoredTransfer) throws {
        try database.write { db in
            try db.cachedStatement(sql: """
                INSERT INTO transfer (owner, id, outgoing, finished, createdMillis, record) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT(id) DO UPDATE SET outgoing = excluded.outgoing, finished = excluded.finished,
                    createdMillis = excluded.createdMillis, record = excluded.record
                """).execute(arguments: [owner, Data(transfer.id), transfer.outgoing, transfer.finished,
                                 Int64(clamping: transfer.createdMillis), transfer.record])
        }
    }

    public func transfer(id: [UInt8]) throws -> StoredTransfer? {
        try reading { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM transfer WHERE owner = ? AND id = ?"), arguments: [owner, Data(id)])
                .map(Self.storedTransfer)
        }
    }

    /// The unfinished transfers and the newest `finishedLimit` finished ones, oldest first.
    public func transfers(finishedLimit: Int = 50) throws -> [StoredTransfer] {
        try reading { db in
            let open = try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM transfer WHERE owner = ? AND finished = 0 ORDER BY createdMillis"),
                                        arguments: [owner])
            let done = try Row.fetchAll(db.cachedStatement(sql: """
                SELECT * FROM transfer WHERE owner = ? AND finished = 1 ORDER BY createdMillis DESC LIMIT ?
                """), arguments: [owner, finishedLimit])
            return (done.reversed() + open).map(Self.storedTransfer)
        }
    }

    private static func storedTransfer(_ row: Row) -> StoredTransfer {
        StoredTransfer(id: [UInt8](row["id"] as Data), outgoing: row["outgoing"], finished: row["finished"],
                       createdMillis: UInt64(max(0, row["createdMillis"] as Int64)), record: row["record"])
    }

    /// Stores the proofs of chunks `first...` of one file of a transfer (replacing any).
    public func saveChunkProofs(id: [UInt8], file: Int, first: Int, _ proofs: [[UInt8]]) throws {
        guard !proofs.isEmpty else { return }
        try database.write { db in
            let statement = try db.cachedStatement(sql: "INSERT OR REPLACE INTO transfer_chunk (id, file, chunk, hash) VALUES (?, ?, ?, ?)")
            for (offset, proof) in proofs.enumerated() {
                try statement.execute(arguments: [Data(id), file, first + offset, Data(proof)])
            }
        }
    }

    /// The stored chunk proofs (hashes or tags) of each file of a transfer, in chunk order, up to the first gap.
    public func chunkProofs(id: [UInt8]) throws -> [Int: [[UInt8]]] {
        try reading { db in
            var out: [Int: [[UInt8]]] = [:]
            for row in try Row.fetchAll(db.cachedStatement(sql: "SELECT file, chunk, hash FROM transfer_chunk WHERE id = ? ORDER BY file, chunk"),
                                        arguments: [Data(id)]) {
                let file: Int = row["file"], chunk: Int = row["chunk"]
                if (out[file]?.count ?? 0) == chunk { out[file, default: []].append([UInt8](row["hash"] as Data)) }
            }
            return out
        }
    }

    public func deleteChunkProofs(id: [UInt8]) throws {
        try database.write { db in try db.cachedStatement(sql: "DELETE FROM transfer_chunk WHERE id = ?").execute(arguments: [Data(id)]) }
    }

    /// Drops chunk proofs left behind by transfers that finished (only a resume needs them).
    public func deleteChunkProofsOfFinishedTransfers() throws {
        try database.write { db in
            try db.cachedStatement(sql: "DELETE FROM transfer_chunk WHERE id IN (SELECT id FROM transfer WHERE finished = 1)").execute()
        }
    }
}
