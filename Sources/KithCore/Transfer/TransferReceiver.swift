import KithCrypto
import KithWire

/// The receiving side of one accepted transfer, as a machine: `FileData` and `FileEnd` go in,
/// what to write, persist and move into place comes out. It checks every rule of spec §File
/// transfer (order, chunk boundaries, chunk proofs, whole-file hashes), so the shell only
/// carries out I/O. A class: it owns a streaming prover for the chunk in progress.
public final class TransferReceiver {
    /// What is durably known about one file: whole verified chunks and their proofs.
    public struct FileProgress: Sendable, Equatable, Codable {
        public var verifiedChunks: UInt32 = 0
        public var chunkProofs: [[UInt8]] = []
        public var complete = false

        /// The proofs are not part of the encoded form: an agent keeps them in a table of their
        /// own, appended as chunks verify (a record rewritten with all of them at every commit
        /// would grow with the square of the file's size).
        private enum CodingKeys: String, CodingKey { case verifiedChunks, complete }

        public init(verifiedChunks: UInt32 = 0, chunkProofs: [[UInt8]] = [], complete: Bool = false) {
            self.verifiedChunks = verifiedChunks
            self.chunkProofs = chunkProofs
            self.complete = complete
        }
    }

    public enum Action: Equatable {
        /// Write `data` at `offset` of the file's partial copy.
        case write(file: Int, offset: UInt64, data: [UInt8])
        /// Make the written data durable, then persist `progress` and tell the sender
        /// (`FileProgress`): the sender's resume point moves on.
        case commit
        /// The file is whole and matches its hash: move it into place, then call `placed`.
        case place(file: Int)
        /// The file was placed before (a resent FileEnd): just tell the sender again.
        case reportComplete(file: Int)
    }

    public let offer: CheckedOffer
    /// Hashes or tags, as this receiver chose when the offer first came.
    public let proofs: ChunkProofs
    public private(set) var progress: [FileProgress]
    /// Bytes verified since the last `.commit`, and how many trigger one.
    private var uncommitted: UInt64 = 0
    private let commitEvery: UInt64
    /// The chunk being received: its file and how many of its bytes came so far.
    private var partial: (file: Int, bytes: UInt64)?
    private let prover: ChunkProver

    /// `progress` is what the store holds (one entry per file of the offer), empty for a new transfer.
    public init(offer: CheckedOffer, proofs: ChunkProofs, progress: [FileProgress], commitEvery: UInt64 = 4 << 20) {
        self.offer = offer
        self.proofs = proofs
        prover = proofs.prover()
        self.progress = progress.count == offer.entries.count ? progress
            : offer.entries.map { FileProgress(complete: $0.isFolder) }
        self.commitEvery = commitEvery
    }

    /// Per file, the chunks the sender need not send again (FileAnswer `verified`).
    public var verified: [UInt32] { progress.map(\.verifiedChunks) }
    public var isComplete: Bool { progress.allSatisfy(\.complete) }
    public var verifiedBytes: UInt64 {
        zip(offer.entries, progress).reduce(0) { sum, pair in
            sum + (pair.1.complete ? pair.0.size : min(pair.0.size, UInt64(pair.1.verifiedChunks) * offer.chunkSize))
        }
    }

    public func receive(_ data: FileData) throws(TransferError) -> [Action] {
        let file = Int(data.file)
        guard file < offer.entries.count, !offer.entries[file].isFolder else {
            throw TransferError("data for file \(data.file), which the offer has not", fatal: true)
        }
        guard !progress[file].complete else { throw TransferError("data for file \(file), which is complete") }
        if let partial, partial.file != file {
            throw TransferError("data for file \(file) while chunk \(progress[partial.file].verifiedChunks) of file \(partial.file) is unfinished")
        }
        let size = offer.entries[file].size
        let chunkStart = UInt64(progress[file].verifiedChunks) * offer.chunkSize
        let expected = chunkStart + (partial?.bytes ?? 0)
        guard data.offset == expected else {
            throw TransferError("data for file \(file) at \(data.offset), expected \(expected)")
        }
        let end = expected + UInt64(data.data.count)
        let chunkEnd = min(chunkStart + offer.chunkSize, size)
        guard !data.data.isEmpty, end <= chunkEnd else {
            throw TransferError("data for file \(file) at \(data.offset) crosses a chunk end or the file's size", fatal: true)
        }
        if partial == nil { prover.start(file: data.file, chunk: progress[file].verifiedChunks) }
        prover.update(data.data)
        var actions: [Action] = [.write(file: file, offset: expected, data: data.data)]
        let (claimed, foreign) = proofs.carried(by: data)
        guard end == chunkEnd else {
            guard claimed == nil, !foreign else { throw TransferError("a chunk proof inside a chunk of file \(file)", fatal: true) }
            partial = (file, end - chunkStart)
            return actions
        }
        let proof = prover.finish()
        partial = nil
        guard let claimed, claimed == proof, !foreign else {
            throw TransferError("chunk \(progress[file].verifiedChunks) of file \(file) does not match its proof")
        }
        progress[file].chunkProofs.append(proof)
        progress[file].verifiedChunks += 1
        uncommitted += chunkEnd - chunkStart
        if uncommitted >= commitEvery {
            uncommitted = 0
            actions.append(.commit)
        }
        return actions
    }

    public func end(_ end: FileEnd) throws(TransferError) -> [Action] {
        let file = Int(end.file)
        guard file < offer.entries.count, !offer.entries[file].isFolder else {
            throw TransferError("end of file \(end.file), which the offer has not", fatal: true)
        }
        if progress[file].complete { return [.reportComplete(file: file)] }
        guard partial == nil, progress[file].verifiedChunks == offer.chunkCount(of: file) else {
            throw TransferError("end of file \(file) before all its data")
        }
        guard TransferReceiver.fileHash(progress[file]) == end.hash else {
            // Every chunk matched what the sender said of it, so the sender's file changed meanwhile.
            throw TransferError("\(offer.entries[file].path) does not match its whole-file hash (it changed while it was sent)", fatal: true)
        }
        uncommitted = 0
        return [.place(file: file)]
    }

    /// The shell moved `file` into place (and persisted that).
    public func placed(_ file: Int) {
        progress[file].complete = true
    }

    /// The stream ended: a chunk in progress is dropped (it comes again from its start).
    public func streamEnded() {
        partial = nil
    }

    static func fileHash(_ progress: FileProgress) -> [UInt8] {
        CheckedOffer.fileHash(chunkProofs: progress.chunkProofs)
    }
}

/// The sending side of one file: turns whole chunks read from disk into `FileData` messages
/// (each at most `piece` bytes, the last of a chunk with its proof) and ends with `FileEnd`.
public final class ChunkEncoder {
    public let file: UInt32
    public let proofs: ChunkProofs
    public let size: UInt64
    public let chunkSize: UInt64
    public let piece: Int
    public private(set) var nextChunk: UInt32 = 0
    /// The proofs of the chunks passed so far, sent or skipped.
    public private(set) var chunkProofs: [[UInt8]] = []
    private let prover: ChunkProver

    public init(file: UInt32, size: UInt64, chunkSize: UInt64, proofs: ChunkProofs, piece: Int = 64000) {
        self.file = file
        self.proofs = proofs
        prover = proofs.prover()
        self.size = size
        self.chunkSize = chunkSize
        self.piece = piece
    }

    public var chunkCount: UInt32 { CheckedOffer.chunkCount(size: size, chunkSize: chunkSize) }
    public var isDone: Bool { nextChunk == chunkCount }
    /// Where the next chunk starts, and how long it is.
    public var nextRange: (offset: UInt64, length: Int) {
        let offset = UInt64(nextChunk) * chunkSize
        return (offset, Int(min(chunkSize, size - offset)))
    }

    /// A chunk the receiver holds already, whose proof this side computed when it sent it.
    public func skip(proof: [UInt8]) {
        precondition(!isDone && proof.count == proofs.length, "ChunkEncoder.skip(proof:) past the end or of another kind")
        chunkProofs.append(proof)
        nextChunk += 1
    }

    /// A chunk the receiver holds already: only its proof is needed (for the whole-file hash).
    public func skip(_ chunk: [UInt8]) throws(TransferError) {
        try check(chunk)
        chunkProofs.append(proofs.proof(of: chunk, file: file, chunk: nextChunk))
        nextChunk += 1
    }

    /// The next chunk's bytes (exactly `nextRange.length` of them) as messages.
    public func encode(_ chunk: [UInt8]) throws(TransferError) -> [FileData] {
        var pieces: [[UInt8]] = []
        var index = 0
        while index < chunk.count {
            pieces.append(Array(chunk[index..<min(index + piece, chunk.count)]))
            index += piece
        }
        return try encode(pieces: pieces)
    }

    /// The next chunk, already cut into pieces of at most `piece` bytes (read that way from disk,
    /// so the bytes are not copied again), as messages.
    public func encode(pieces: [[UInt8]]) throws(TransferError) -> [FileData] {
        guard !isDone, pieces.reduce(0, { $0 + $1.count }) == nextRange.length,
              pieces.allSatisfy({ !$0.isEmpty && $0.count <= piece }) else {
            throw TransferError("file \(file) is not the size it was when offered (it changed while it was sent)", fatal: true)
        }
        var offset = UInt64(nextChunk) * chunkSize
        var messages: [FileData] = []
        messages.reserveCapacity(pieces.count)
        prover.start(file: file, chunk: nextChunk)
        for bytes in pieces {
            prover.update(bytes)
            messages.append(FileData(file: file, offset: offset, data: bytes))
            offset += UInt64(bytes.count)
        }
        let proof = prover.finish()
        proofs.attach(proof, to: &messages[messages.count - 1])
        chunkProofs.append(proof)
        nextChunk += 1
        return messages
    }

    /// After the last chunk: the whole-file hash.
    public func end() -> FileEnd {
        precondition(isDone, "ChunkEncoder.end before the last chunk")
        return FileEnd(file: file, hash: CheckedOffer.fileHash(chunkProofs: chunkProofs))
    }

    private func check(_ chunk: [UInt8]) throws(TransferError) {
        guard !isDone, chunk.count == nextRange.length else {
            throw TransferError("file \(file) is not the size it was when offered (it changed while it was sent)", fatal: true)
        }
    }
}
