import KithCrypto
import KithWire

/// Why a transfer stream or offer was refused; `fatal` ones end the transfer (a retry would
/// fail the same way), the others only the stream.
public struct TransferError: Error, Equatable, CustomStringConvertible {
    public let description: String
    public let fatal: Bool
    public init(_ description: String, fatal: Bool = false) {
        self.description = description
        self.fatal = fatal
    }
}

/// An offer that passed every check (spec §File transfer, §File names): what the receiver may
/// act on. Nothing in a `FileOffer` reaches the disk except through this.
public struct CheckedOffer: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var components: [String]
        public var size: UInt64
        public var isFolder: Bool
        /// Permission bits only: set-id and sticky bits are gone.
        public var mode: UInt32
        public var path: String { components.joined(separator: "/") }
    }

    public var transferID: [UInt8]
    public var entries: [Entry]
    public var chunkSize: UInt64
    /// `direct` or `ask`.
    public var requested: ReceivePermission
    public var ttlSeconds: UInt32
    /// The sender's key for chunk tags (spec §File transfer, Chunk proofs); nil: it knows only hashes.
    public var chunkKey: [UInt8]?
    public var totalBytes: UInt64 { entries.reduce(0) { $0 + $1.size } }
    /// The first component of each entry, in order, once each: what lands in the target folder.
    public var topLevelNames: [(name: String, isFolder: Bool)] {
        var seen = Set<String>(), out: [(String, Bool)] = []
        for entry in entries where seen.insert(entry.components[0]).inserted {
            out.append((entry.components[0], entry.components.count > 1 || entry.isFolder))
        }
        return out
    }

    public static let chunkSizes: ClosedRange<UInt64> = 65536...16_777_216
    public static let defaultChunkSize: UInt64 = 1 << 20

    /// `allowingHiddenNames`: names with bidirectional controls or invisible characters pass
    /// (`TransferName.isHidden`); by default such an offer is refused.
    public init(_ offer: FileOffer, allowingHiddenNames: Bool = false) throws(TransferError) {
        guard offer.transferID.count == 16 else { throw TransferError("offer: a transfer id is 16 bytes", fatal: true) }
        guard !offer.files.isEmpty else { throw TransferError("offer: no files", fatal: true) }
        let chunk = UInt64(offer.chunkSize)
        guard Self.chunkSizes.contains(chunk), chunk & (chunk - 1) == 0 else {
            throw TransferError("offer: chunk size \(offer.chunkSize) is not a power of two from 64 KiB to 16 MiB", fatal: true)
        }
        let requested = offer.receive
        switch requested {
        case .direct, .ask: break
        case .reject, .unknown: throw TransferError("offer: unknown receive permission \(requested.rawValue)", fatal: true)
        }
        var entries: [Entry] = [], folders = Set<String>(), listedFolders = Set<String>(), files = Set<String>()
        var total: UInt64 = 0
        for file in offer.files {
            let components: [String]
            do { components = try TransferName.components(of: file.path, allowingHidden: allowingHiddenNames) } catch {
                throw TransferError(error.description, fatal: true)
            }
            let isFolder: Bool
            switch file.kind ?? .file {
            case .file: isFolder = false
            case .folder: isFolder = true
            case .unknown(let kind):
                throw TransferError("offer: \(TransferNameError.printable(file.path)) is of unknown kind \(kind)", fatal: true)
            }
            let path = components.joined(separator: "/")
            // A name may not be both a file and a folder, nor come twice.
            for depth in 1..<components.count {
                let parent = components[..<depth].joined(separator: "/")
                guard !files.contains(parent) else { throw TransferError("offer: \(parent) is a file and a folder", fatal: true) }
                folders.insert(parent)
            }
            guard !files.contains(path), !listedFolders.contains(path), !(folders.contains(path) && !isFolder) else {
                throw TransferError("offer: \(TransferNameError.printable(path)) comes twice", fatal: true)
            }
            if isFolder { folders.insert(path); listedFolders.insert(path) } else { files.insert(path) }
            if components.count == 1 && components[0].hasPrefix(Self.stagingPrefix) {
                throw TransferError("offer: \(TransferNameError.printable(path)) is a name receivers keep for partial files", fatal: true)
            }
            let size = isFolder ? 0 : file.size
            guard size / chunk < UInt64(UInt32.max) else {
                throw TransferError("offer: \(TransferNameError.printable(path)) is too large (\(size) bytes)", fatal: true)
            }
            let (sum, overflow) = total.addingReportingOverflow(size)
            guard !overflow else { throw TransferError("offer: sizes overflow", fatal: true) }
            total = sum
            entries.append(Entry(components: components, size: size, isFolder: isFolder, mode: (file.mode ?? (isFolder ? 0o755 : 0o644)) & 0o777))
        }
        transferID = offer.transferID
        self.entries = entries
        chunkSize = chunk
        self.requested = requested
        ttlSeconds = offer.ttlSeconds
        chunkKey = offer.chunkKey
    }

    /// The hidden folder of partial copies in a landing folder starts with this; no offer may use it.
    public static let stagingPrefix = ".kith-partial-"

    /// Chunks in a file of `size` bytes (no overflow for any size; `CheckedOffer` keeps it in UInt32).
    public static func chunkCount(size: UInt64, chunkSize: UInt64) -> UInt32 {
        UInt32(clamping: size / chunkSize + (size % chunkSize == 0 ? 0 : 1))
    }

    public func chunkCount(of file: Int) -> UInt32 { Self.chunkCount(size: entries[file].size, chunkSize: chunkSize) }

    /// The whole-file hash: BLAKE2b-256 of the chunk proofs (hashes or tags) in order (spec §File transfer).
    public static func fileHash(chunkProofs: [[UInt8]]) -> [UInt8] {
        ContentHasher.hash(chunkProofs.flatMap { $0 })
    }
}
