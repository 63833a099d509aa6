import Foundation
import KithCore
import KithCrypto
import KithTestSupport
import KithWire
import Testing

/// Protocol/vectors/transfer.json, offer.json and names.json, computed by Tools/make-vectors
/// (Python's hashlib, from spec §File transfer and §File names), against the Swift code.
@Suite struct TransferVectorTests {
    /// The test pattern of transfer.json: the byte at offset `i` of every file is (i*31+7) mod 251.
    static func pattern(offset: UInt64, length: Int) -> [UInt8] {
        (0..<UInt64(length)).map { UInt8(((offset + $0) * 31 + 7) % 251) }
    }

    struct Piece: Decodable, Equatable, CustomStringConvertible {
        let file: UInt32
        let offset: UInt64
        let length: Int
        let chunkHash: String?
        let chunkTag: String?
        var description: String { "(\(file), \(offset), \(length), \(chunkHash ?? "nil"), \(chunkTag ?? "nil"))" }
    }

    struct Event: Decodable {
        let event: String
        let file: UInt32?
        let offset: UInt64?
        let length: Int?
        let chunkHash: String?
        let chunkTag: String?
        let hash: String?
    }

    struct Entry: Decodable {
        let path: String
        let size: UInt64
        let kind: FileEntryKind?
        let mode: UInt32?
        var fileEntry: FileEntry { FileEntry(path: path, size: size, mode: mode, kind: kind) }
    }

    struct End: Decodable { let file: UInt32; let hash: String }

    struct TransferVector: Decodable, CustomTestStringConvertible {
        let tcId: Int
        let comment: String
        let result: String
        let kind: String
        let chunkSize: UInt64
        /// Present: chunk tags under this key; absent: chunk hashes.
        let chunkKey: String?
        // send
        let size: UInt64?
        let piece: Int?
        let verified: UInt32?
        let head: String?
        /// `chunkHashes` or `chunkTags`, whichever the case proves chunks with.
        let chunkProofs: [String]?
        let fileHash: String?
        let fileData: [Piece]?
        let fileEnd: End?
        // receive
        let offer: [Entry]?
        let receiverVerified: [UInt32]?
        let heldChunkProofs: [[String]]?
        let events: [Event]?
        let placed: [Int]?
        let finalVerified: [UInt32]?
        let ends: String?
        let at: Int?
        var testDescription: String { "#\(tcId) \(comment)" }

        enum CodingKeys: String, CodingKey {
            case tcId, comment, result, kind, chunkSize, chunkKey, size, piece, head, chunkHashes, chunkTags, fileHash, fileData
            case fileEnd, offer, heldChunkHashes, heldChunkTags, events, placed, finalVerified, ends, at, verified
        }

        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            tcId = try c.decode(Int.self, forKey: .tcId)
            comment = try c.decode(String.self, forKey: .comment)
            result = try c.decode(String.self, forKey: .result)
            kind = try c.decode(String.self, forKey: .kind)
            chunkSize = try c.decode(UInt64.self, forKey: .chunkSize)
            chunkKey = try c.decodeIfPresent(String.self, forKey: .chunkKey)
            size = try c.decodeIfPresent(UInt64.self, forKey: .size)
            piece = try c.decodeIfPresent(Int.self, forKey: .piece)
            head = try c.decodeIfPresent(String.self, forKey: .head)
            chunkProofs = try c.decodeIfPresent([String].self, forKey: chunkKey == nil ? .chunkHashes : .chunkTags)
            fileHash = try c.decodeIfPresent(String.self, forKey: .fileHash)
            fileData = try c.decodeIfPresent([Piece].self, forKey: .fileData)
            fileEnd = try c.decodeIfPresent(End.self, forKey: .fileEnd)
            offer = try c.decodeIfPresent([Entry].self, forKey: .offer)
            heldChunkProofs = try c.decodeIfPresent([[String]].self, forKey: chunkKey == nil ? .heldChunkHashes : .heldChunkTags)
            events = try c.decodeIfPresent([Event].self, forKey: .events)
            placed = try c.decodeIfPresent([Int].self, forKey: .placed)
            finalVerified = try c.decodeIfPresent([UInt32].self, forKey: .finalVerified)
            ends = try c.decodeIfPresent(String.self, forKey: .ends)
            at = try c.decodeIfPresent(Int.self, forKey: .at)
            // "verified" is one number for a sender, one per entry for a receiver.
            if kind == "send" {
                verified = try c.decode(UInt32.self, forKey: .verified)
                receiverVerified = nil
            } else {
                verified = nil
                receiverVerified = try c.decode([UInt32].self, forKey: .verified)
            }
        }
    }

    static let transferID = [UInt8](repeating: 0x42, count: 16)

    static func proofs(_ v: TransferVector) -> ChunkProofs { ChunkProofs(chunkKey: v.chunkKey.map { [UInt8](vectorHex: $0) }) }

    // MARK: transfer.json, sender

    @Test(arguments: try VectorFile<TransferVector>.load("transfer.json").filter { $0.kind == "send" })
    func send(_ v: TransferVector) throws {
        let size = try #require(v.size), proofs = try #require(v.chunkProofs).map { [UInt8](vectorHex: $0) }
        let content = Self.pattern(offset: 0, length: Int(size))
        #expect(content.prefix(16).hexString == v.head)
        #expect(CheckedOffer.chunkCount(size: size, chunkSize: v.chunkSize) == UInt32(proofs.count))

        // The primitives: each chunk's proof (BLAKE2b-256, or its Poly1305 tag), and BLAKE2b-256 of the proofs in order.
        for (k, proof) in proofs.enumerated() {
            let start = Int(UInt64(k) * v.chunkSize)
            let chunk = Array(content[start..<min(start + Int(v.chunkSize), content.count)])
            if v.chunkKey == nil { #expect(ContentHasher.hash(chunk) == proof, "chunk \(k)") }
            #expect(Self.proofs(v).proof(of: chunk, file: 0, chunk: UInt32(k)) == proof, "chunk \(k)")
        }
        #expect(CheckedOffer.fileHash(chunkProofs: proofs).hexString == v.fileHash)

        // The sender: chunks held by the receiver are skipped, the rest become FileData pieces.
        let encoder = ChunkEncoder(file: 0, size: size, chunkSize: v.chunkSize, proofs: Self.proofs(v), piece: try #require(v.piece))
        var messages: [FileData] = []
        while !encoder.isDone {
            let range = encoder.nextRange
            let chunk = Array(content[Int(range.offset)..<Int(range.offset) + range.length])
            if encoder.nextChunk < (v.verified ?? 0) {
                try encoder.skip(chunk)
            } else {
                messages += try encoder.encode(chunk)
            }
        }
        let pieces = messages.map {
            Piece(file: $0.file, offset: $0.offset, length: $0.data.count, chunkHash: $0.chunkHash?.hexString, chunkTag: $0.chunkTag?.hexString)
        }
        #expect(pieces == v.fileData)
        for message in messages {
            #expect(message.data == Self.pattern(offset: message.offset, length: message.data.count))
            #expect(message.data.count <= 65000)
        }
        let end = encoder.end()
        #expect(end.file == v.fileEnd?.file)
        #expect(end.hash.hexString == v.fileEnd?.hash)
        #expect(end.hash.hexString == v.fileHash)
    }

    @Test func theEmptyFileHashIsBLAKE2b256OfNoBytes() {
        #expect(CheckedOffer.fileHash(chunkProofs: []).hexString
            == "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8")
    }

    // MARK: transfer.json, receiver

    @Test(arguments: try VectorFile<TransferVector>.load("transfer.json").filter { $0.kind == "receive" })
    func receive(_ v: TransferVector) throws {
        let entries = try #require(v.offer)
        let offer = try CheckedOffer(FileOffer(transferID: Self.transferID, files: entries.map(\.fileEntry), receive: .direct,
                                               ttlSeconds: 60, chunkSize: UInt32(v.chunkSize)))
        let verified = try #require(v.receiverVerified), held = try #require(v.heldChunkProofs)
        let progress = offer.entries.indices.map { i in
            TransferReceiver.FileProgress(verifiedChunks: verified[i], chunkProofs: held[i].map { [UInt8](vectorHex: $0) },
                                          complete: offer.entries[i].isFolder)
        }
        let receiver = TransferReceiver(offer: offer, proofs: Self.proofs(v), progress: progress)
        #expect(receiver.verified == verified)

        var placed: [Int] = []
        var failedAt: Int?
        var failure: TransferError?
        for (index, event) in try #require(v.events).enumerated() {
            do {
                switch event.event {
                case "data":
                    let offset = try #require(event.offset), length = try #require(event.length)
                    let data = Self.pattern(offset: offset, length: length)
                    let actions = try receiver.receive(FileData(file: try #require(event.file), offset: offset, data: data,
                                                                chunkHash: event.chunkHash.map { [UInt8](vectorHex: $0) },
                                                                chunkTag: event.chunkTag.map { [UInt8](vectorHex: $0) }))
                    #expect(actions.first == .write(file: Int(event.file!), offset: offset, data: data), "event \(index)")
                case "end":
                    let actions = try receiver.end(FileEnd(file: try #require(event.file), hash: [UInt8](vectorHex: event.hash!)))
                    for case .place(let file) in actions {
                        receiver.placed(file)
                        placed.append(file)
                    }
                case "newStream":
                    receiver.streamEnded()
                default:
                    Issue.record("unknown event \(event.event)")
                }
            } catch let error as TransferError {
                failedAt = index
                failure = error
                break
            }
        }

        if v.result == "valid" {
            #expect(failedAt == nil, "refused event \(failedAt ?? -1): \(failure?.description ?? "")")
            #expect(placed == v.placed)
            #expect(receiver.verified == v.finalVerified)
        } else {
            #expect(failedAt == v.at, "\(failure?.description ?? "accepted every event")")
            if let failure, failedAt == v.at {
                let ends = failure.fatal ? "transfer" : "stream"
                #expect(ends == v.ends, "ends the \(ends), the vector says the \(v.ends ?? "?"): \(failure.description)")
            }
        }
    }

    // MARK: offer.json

    struct OfferVector: Decodable, CustomTestStringConvertible {
        struct Checked: Decodable {
            struct CheckedEntry: Decodable { let components: [String]; let size: UInt64; let folder: Bool; let mode: UInt32 }
            struct TopLevel: Decodable { let name: String; let folder: Bool }
            let entries: [CheckedEntry]
            let topLevel: [TopLevel]
            let totalBytes: UInt64
        }
        let tcId: Int
        let comment: String
        let result: String
        let entries: [Entry]
        let chunkSize: UInt32
        let receive: ReceivePermission
        let checked: Checked?
        let error: String?
        var testDescription: String { "#\(tcId) \(comment)" }
    }

    @Test(arguments: try VectorFile<OfferVector>.load("offer.json"))
    func offer(_ v: OfferVector) throws {
        let offer = FileOffer(transferID: Self.transferID, files: v.entries.map(\.fileEntry), receive: v.receive,
                              ttlSeconds: 60, chunkSize: v.chunkSize)
        if let expected = v.checked {
            let checked = try CheckedOffer(offer)
            #expect(checked.entries.map(\.components) == expected.entries.map(\.components))
            #expect(checked.entries.map(\.size) == expected.entries.map(\.size))
            #expect(checked.entries.map(\.isFolder) == expected.entries.map(\.folder))
            #expect(checked.entries.map(\.mode) == expected.entries.map(\.mode))
            #expect(checked.topLevelNames.map(\.name) == expected.topLevel.map(\.name))
            #expect(checked.topLevelNames.map(\.isFolder) == expected.topLevel.map(\.folder))
            #expect(checked.totalBytes == expected.totalBytes)
            #expect(checked.chunkSize == UInt64(v.chunkSize))
        } else {
            do {
                let checked = try CheckedOffer(offer)
                Issue.record("accepted an offer that fails \(v.error ?? "?"): \(checked.entries.map(\.path))")
            } catch {
                #expect(error.fatal, "an offer that fails its checks ends the transfer")
            }
        }
    }

    // MARK: names.json

    struct NameVector: Decodable, CustomTestStringConvertible {
        let tcId: Int
        let comment: String
        let result: String
        let path: String
        let pathHex: String
        let components: [String]?
        let error: String?
        var testDescription: String { "#\(tcId) \(comment)" }
    }

    /// TransferNameError's reason, as the rule names of names.json (the reason text is for
    /// people; this maps what this implementation says).
    static func rule(_ error: TransferNameError) -> String {
        let table: [(String, String)] = [
            ("reorders or hides", "hiddenCharacter"), ("empty component", "emptyComponent"), ("it is empty", "empty"), ("component is longer", "componentTooLong"),
            ("longer than", "tooLong"), ("absolute", "absolute"), ("control character", "controlCharacter"),
            ("backslash", "backslash"), ("deeper than", "tooDeep"), ("component", "dotComponent"),
        ]
        return table.first { error.reason.contains($0.0) }?.1 ?? "unknown: \(error.reason)"
    }

    @Test(arguments: try VectorFile<NameVector>.load("names.json"))
    func name(_ v: NameVector) throws {
        let bytes = [UInt8](vectorHex: v.pathHex)
        #expect(Array(v.path.utf8) == bytes, "path and pathHex agree")
        let path = String(decoding: bytes, as: UTF8.self)
        if let expected = v.components {
            let components = try TransferName.components(of: path)
            // Compared as bytes: Swift's String == would call canonically equivalent names equal.
            #expect(components.map { Array($0.utf8) } == expected.map { Array($0.utf8) })
        } else {
            do {
                let components = try TransferName.components(of: path)
                Issue.record("accepted a path that breaks \(v.error ?? "?"): components \(components.map { Array($0.utf8) })")
            } catch {
                #expect(Self.rule(error) == v.error)
                if v.error == "hiddenCharacter" {
                    #expect(try TransferName.components(of: path, allowingHidden: true).count >= 1, "a receiver that allows them")
                    #expect(!TransferNameError.printable(path).unicodeScalars.contains(where: TransferName.isHidden),
                            "shown escaped")
                }
            }
        }
    }
}

extension Sequence where Element == UInt8 {
    fileprivate var hexString: String { map { String(format: "%02x", $0) }.joined() }
}
