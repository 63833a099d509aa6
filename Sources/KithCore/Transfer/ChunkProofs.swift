import KithCrypto
import KithWire

/// How one transfer proves its chunks (spec §File transfer, Chunk proofs): BLAKE2b-256 chunk
/// hashes, which every receiver knows, or Poly1305 chunk tags under keys from the offer's chunk
/// key, which cost a quarter as much. The receiver chooses when it first takes the offer and
/// keeps that choice for the transfer's life, so the proofs both sides keep across streams and
/// restarts stay of one kind.
public enum ChunkProofs: Sendable, Equatable {
    case hashes
    case tags(key: [UInt8])

    /// What the receiver answers for an offer carrying `chunkKey` (nil: the sender knows only hashes).
    public init(chunkKey: [UInt8]?) {
        self = chunkKey.map { .tags(key: $0) } ?? .hashes
    }

    /// The sender's side: what an accepted answer's `chunkProof` asks for, given the key it offered.
    public init(answer: ChunkProof?, offeredKey: [UInt8]?) throws(TransferError) {
        switch answer ?? .hash {
        case .hash: self = .hashes
        case .tag:
            guard let offeredKey else { throw TransferError("the receiver asked for chunk tags, which were not offered", fatal: true) }
            self = .tags(key: offeredKey)
        case .unknown(let value): throw TransferError("the receiver asked for chunk proof \(value), which this sender does not know", fatal: true)
        }
    }

    public var wire: ChunkProof {
        switch self {
        case .hashes: .hash
        case .tags: .tag
        }
    }

    /// Bytes in one proof: 32 for a hash, 16 for a tag.
    public var length: Int {
        switch self {
        case .hashes: ContentHasher.length
        case .tags: ChunkTagger.length
        }
    }

    public func prover() -> ChunkProver { ChunkProver(self) }

    /// The proof of one whole chunk.
    public func proof(of chunk: [UInt8], file: UInt32, chunk index: UInt32) -> [UInt8] {
        let prover = prover()
        prover.start(file: file, chunk: index)
        prover.update(chunk)
        return prover.finish()
    }

    /// The proof carried by a `FileData` (nil if it carries none of this kind), and whether it
    /// carries one of the other kind, which no `FileData` of this transfer may.
    public func carried(by data: FileData) -> (proof: [UInt8]?, foreign: Bool) {
        switch self {
        case .hashes: (data.chunkHash, data.chunkTag != nil)
        case .tags: (data.chunkTag, data.chunkHash != nil)
        }
    }

    /// `data` with `proof` in the field of this kind.
    public func attach(_ proof: [UInt8], to data: inout FileData) {
        switch self {
        case .hashes: data.chunkHash = proof
        case .tags: data.chunkTag = proof
        }
    }
}

/// The proof of the chunk in progress, fed piece by piece as its bytes pass (read from disk on
/// the sender, written to the partial copy on the receiver), never from one big buffer.
public final class ChunkProver {
    private enum Engine {
        case hash(ContentHasher)
        case tag(ChunkTagger)
    }

    private let engine: Engine

    init(_ proofs: ChunkProofs) {
        switch proofs {
        case .hashes: engine = .hash(ContentHasher())
        case .tags(let key): engine = .tag(ChunkTagger(key: key))
        }
    }

    /// Begins chunk `chunk` of file `file`; anything fed before is dropped.
    public func start(file: UInt32, chunk: UInt32) {
        switch engine {
        case .hash(let hasher): hasher.reset()
        case .tag(let tagger): tagger.start(file: file, chunk: chunk)
        }
    }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        switch engine {
        case .hash(let hasher): hasher.update(bytes)
        case .tag(let tagger): tagger.update(bytes)
        }
    }

    public func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

    /// The proof of everything fed since `start`.
    public func finish() -> [UInt8] {
        switch engine {
        case .hash(let hasher): hasher.finish()
        case .tag(let tagger): tagger.finish()
        }
    }
}
