import Foundation
import KithCore
import KithCrypto
import KithStore
import KithWire

/// One file transfer, either way, as this agent keeps it: the plan, where it lands, and how far
/// it got. Stored whole as JSON (AgentStore+Transfers) at every step that must survive a crash.
struct TransferRecord: Codable, Sendable {
    struct Entry: Codable, Sendable {
        var path: String
        var size: UInt64
        var mode: UInt32
        var isFolder: Bool
        /// Sender: the file on this disk, and its modification time when offered (nanoseconds):
        /// a resume from stored chunk proofs is only right if the file has not changed since.
        var source: String?
        var modifiedNanos: Int64?
    }

    var id: [UInt8]
    var outgoing: Bool
    var peer: String
    /// With `reason`, `deadlineMillis`, `finishedMillis` and `progress`: changed only through `machine`.
    var state: TransferMachine.State
    var reason: String?
    /// `direct` or `ask`; stored by name, as it always was.
    @StoredByName var requested: ReceivePermission
    var ttlSeconds: UInt32
    var chunkSize: UInt64
    /// The key for chunk tags (spec §File transfer, Chunk proofs): the sender's, chosen at the
    /// push and offered on every stream; the receiver's, taken from the offer when it first came.
    /// Nil (every record from before chunk tags): chunk hashes, for the transfer's whole life.
    var chunkKey: [UInt8]?
    var createdMillis: UInt64
    /// Until when an unanswered offer waits (receiver: from its arrival; sender: plus a grace).
    var deadlineMillis: UInt64?
    var finishedMillis: UInt64?
    /// When it last changed (progress, state): an incoming one silent for long is given up.
    var touchedMillis: UInt64?
    var entries: [Entry]
    /// Per entry: chunks verified by the receiver, whether it is in place (hashes: receiver only).
    var progress: [TransferReceiver.FileProgress]
    /// Sender: bytes put on the wire, resends included.
    var bytesSent: UInt64 = 0
    /// Receiver: the folder it lands in, the hidden folder of partial copies, and the name each
    /// top-level entry got there (" (1)" when the name was taken).
    var folder: String?
    var staging: String?
    var landed: [String: String] = [:]

    /// The transfer's state and the facts its changes depend on, as a machine; setting it keeps
    /// what the machine decided (the record stores them as it always did, for older records).
    var machine: TransferMachine {
        get {
            TransferMachine(direction: outgoing ? .sending : .receiving, state: state, reason: reason, ttlSeconds: ttlSeconds,
                            deadlineMillis: deadlineMillis, finishedMillis: finishedMillis, progress: progress)
        }
        set {
            state = newValue.state
            reason = newValue.reason
            deadlineMillis = newValue.deadlineMillis
            finishedMillis = newValue.finishedMillis
            progress = newValue.progress
        }
    }

    var idHex: String { id.hexString }
    /// Receiver: the chunk proofs it asks for, and checks, on every stream.
    var proofs: ChunkProofs { ChunkProofs(chunkKey: chunkKey) }
    var totalBytes: UInt64 { entries.reduce(0) { $0 + $1.size } }
    var verifiedBytes: UInt64 {
        zip(entries, progress).reduce(0) { sum, pair in
            sum + (pair.1.complete ? pair.0.size : min(pair.0.size, UInt64(pair.1.verifiedChunks) * chunkSize))
        }
    }

    var stored: AgentStore.StoredTransfer {
        AgentStore.StoredTransfer(id: id, outgoing: outgoing, finished: state.isFinished, createdMillis: createdMillis,
                           record: (try? JSONEncoder().encode(self)) ?? Data())
    }

    /// The wire form of the offer (the sender's side).
    var offer: FileOffer {
        FileOffer(transferID: id,
                  files: entries.map { FileEntry(path: $0.path, size: $0.size, mode: $0.mode, kind: $0.isFolder ? .folder : .file) },
                  receive: requested, ttlSeconds: ttlSeconds, chunkSize: UInt32(chunkSize), chunkKey: chunkKey)
    }
}

/// A receive permission in a stored record's JSON: its name (`"direct"`), not the wire's number.
@propertyWrapper
struct StoredByName: Codable, Sendable {
    var wrappedValue: ReceivePermission

    init(wrappedValue: ReceivePermission) { self.wrappedValue = wrappedValue }

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let name = try container.decode(String.self)
        guard let permission = ReceivePermission(name: name) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "no receive permission is called \(name)")
        }
        wrappedValue = permission
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(wrappedValue.description)
    }
}
