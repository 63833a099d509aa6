import KithCore
import KithWire
import Testing

/// Offers a sibling could send to make a receiver trap or write where it must not.
struct CheckedOfferTests {
    static func offer(_ files: [FileEntry], chunk: UInt32 = 1 << 20) -> FileOffer {
        FileOffer(transferID: [UInt8](repeating: 7, count: 16), files: files, receive: .direct, ttlSeconds: 60, chunkSize: chunk)
    }

    @Test func aFileTooLargeToCountItsChunksIsRefused() {
        #expect(throws: TransferError.self) { try CheckedOffer(Self.offer([FileEntry(path: "huge", size: 1 << 63)])) }
        #expect(throws: TransferError.self) { try CheckedOffer(Self.offer([FileEntry(path: "max", size: .max)])) }
        // The largest count that fits is fine, and counting never traps.
        #expect(CheckedOffer.chunkCount(size: .max, chunkSize: 65536) == UInt32.max)
        #expect(CheckedOffer.chunkCount(size: 0, chunkSize: 65536) == 0)
        #expect(CheckedOffer.chunkCount(size: 65537, chunkSize: 65536) == 2)
    }

    @Test func theStagingFolderNameIsReserved() {
        #expect(throws: TransferError.self) {
            try CheckedOffer(Self.offer([FileEntry(path: ".kith-partial-0011", size: 0, kind: .folder),
                                         FileEntry(path: ".kith-partial-0011/0.part", size: 3)]))
        }
        // Deeper down, the name is just a name.
        #expect((try? CheckedOffer(Self.offer([FileEntry(path: "a/.kith-partial-x", size: 1)]))) != nil)
    }

    @Test func setIDBitsAreDroppedAndFoldersDefaultToTraversable() throws {
        let checked = try CheckedOffer(Self.offer([FileEntry(path: "d", size: 0, kind: .folder),
                                                   FileEntry(path: "d/run", size: 1, mode: 0o4755)]))
        #expect(checked.entries.map(\.mode) == [0o755, 0o755])
    }
}

/// A resumed sender may pass the chunks the receiver holds by their stored proofs instead of reading them.
struct ChunkEncoderResumeTests {
    @Test(arguments: [ChunkProofs.hashes, .tags(key: Array(0..<32))])
    func skippingByProofGivesTheSameFileHashAsReadingAgain(_ proofs: ChunkProofs) throws {
        let bytes = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let chunk: UInt64 = 65536
        let first = ChunkEncoder(file: 0, size: UInt64(bytes.count), chunkSize: chunk, proofs: proofs)
        while !first.isDone {
            let range = first.nextRange
            _ = try first.encode(Array(bytes[Int(range.offset)..<Int(range.offset) + range.length]))
        }
        #expect(first.chunkProofs.allSatisfy { $0.count == proofs.length })
        let resumed = ChunkEncoder(file: 0, size: UInt64(bytes.count), chunkSize: chunk, proofs: proofs)
        for proof in first.chunkProofs.prefix(2) { resumed.skip(proof: proof) }
        while !resumed.isDone {
            let range = resumed.nextRange
            _ = try resumed.encode(Array(bytes[Int(range.offset)..<Int(range.offset) + range.length]))
        }
        #expect(resumed.end() == first.end())
    }
}

/// What a sender does with the receiver's `chunkProof` (spec §File transfer, Chunk proofs).
struct ChunkProofChoiceTests {
    let key = [UInt8](repeating: 7, count: 32)

    @Test func aReceiverThatSaysNothingGetsChunkHashes() throws {
        #expect(try ChunkProofs(answer: nil, offeredKey: key) == .hashes)
        #expect(try ChunkProofs(answer: .hash, offeredKey: key) == .hashes)
    }

    @Test func tagsAreUsedOnlyWithTheKeyThatWasOffered() throws {
        #expect(try ChunkProofs(answer: .tag, offeredKey: key) == .tags(key: key))
        #expect(throws: TransferError.self) { try ChunkProofs(answer: .tag, offeredKey: nil) }
    }

    @Test func anUnknownProofEndsTheTransfer() {
        do {
            _ = try ChunkProofs(answer: .unknown(3), offeredKey: key)
            Issue.record("accepted chunk proof 3")
        } catch {
            #expect(error.fatal)
        }
    }

    @Test func aTagIsBoundToItsFileAndChunk() {
        let proofs = ChunkProofs.tags(key: key), bytes = [UInt8](repeating: 1, count: 1000)
        let tag = proofs.proof(of: bytes, file: 0, chunk: 0)
        #expect(tag.count == 16)
        #expect(proofs.proof(of: bytes, file: 0, chunk: 1) != tag)
        #expect(proofs.proof(of: bytes, file: 1, chunk: 0) != tag)
        #expect(ChunkProofs.tags(key: [UInt8](repeating: 8, count: 32)).proof(of: bytes, file: 0, chunk: 0) != tag)
    }
}
