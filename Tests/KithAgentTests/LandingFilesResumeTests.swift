#if canImport(Glibc)
import Glibc
#endif
import Foundation
import KithCore
import Testing
@testable import KithAgent

/// A stream that resumes a transfer trusts a partial copy only if this process wrote it: the same
/// file (device and inode), still as large as the chunks it held. Anything else — a restart, a
/// copy replaced or cut short — is read back and proved again (chunk tags by default here; chunk
/// hashes for a transfer that started with them). The copy is changed in place here
/// to tell the two apart: only a read notices.
@Suite struct LandingFilesResumeTests {
    static let chunkSize: UInt64 = 65536
    static let size: UInt64 = 2 * chunkSize
    static let content: [UInt8] = (0..<Int(size)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
    static let tags = ChunkProofs.tags(key: Array(repeating: 9, count: 32))

    /// The proofs of the two chunks of `content`, of `kind`.
    static func proofs(_ kind: ChunkProofs) -> [[UInt8]] {
        [kind.proof(of: Array(content[..<Int(chunkSize)]), file: 0, chunk: 0),
         kind.proof(of: Array(content[Int(chunkSize)...]), file: 0, chunk: 1)]
    }

    @Test(arguments: [ChunkProofs.hashes, tags])
    func theCopyThisRunWroteIsTrustedWithoutReadingIt(_ kind: ChunkProofs) throws {
        let (folder, staging) = Self.folders("trusted")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let written = try Self.writeBothChunks(folder, staging)
        #expect(try Self.held(folder, staging, written: nil, kind: kind) == 2, "after a restart, read back: both hold")
        try Self.changeInPlace(staging + "/0.part", at: Int(Self.chunkSize) + 10)

        #expect(try Self.held(folder, staging, written: written, kind: kind) == 2, "trusted: not read back")
        #expect(try Self.held(folder, staging, written: nil, kind: kind) == 1, "after a restart the change is found")
    }

    /// Removed and written again, the copy could get its old inode number back (it did, here,
    /// before `WrittenPartial` held a descriptor of the file it wrote).
    @Test func aReplacedCopyIsReadBack() throws {
        let (folder, staging) = Self.folders("replaced")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let written = try Self.writeBothChunks(folder, staging)
        var changed = Self.content
        changed[Int(Self.chunkSize) + 10] ^= 0xff
        try FileManager.default.removeItem(atPath: staging + "/0.part")
        try Data(changed).write(to: URL(fileURLWithPath: staging + "/0.part"))

        #expect(try Self.held(folder, staging, written: written) == 1)
    }

    @Test func aCopyCutShortIsReadBack() throws {
        let (folder, staging) = Self.folders("cut")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let written = try Self.writeBothChunks(folder, staging)
        #expect(truncate(staging + "/0.part", off_t(Self.chunkSize + 100)) == 0)

        #expect(try Self.held(folder, staging, written: written) == 1)
    }

    // MARK: - Helpers

    private static func folders(_ name: String) -> (String, String) {
        let folder = NSTemporaryDirectory() + "kith-landing-\(name)-\(UUID().uuidString.prefix(8))"
        return (folder, folder + "/.kith-partial-test")
    }

    /// Writes the file's two chunks through a landing, makes them durable, and says what it wrote.
    private static func writeBothChunks(_ folder: String, _ staging: String) throws -> WrittenPartial {
        let landing = LandingFiles(folder: folder, staging: staging)
        try landing.prepare()
        try landing.write(file: 0, offset: 0, data: Array(content[..<Int(chunkSize)]))
        try landing.write(file: 0, offset: chunkSize, data: Array(content[Int(chunkSize)...]))
        try landing.sync()
        return try #require(landing.written(0, chunks: 2))
    }

    /// What a new stream's landing finds in the partial copy.
    private static func held(_ folder: String, _ staging: String, written: WrittenPartial?, kind: ChunkProofs = tags) throws -> Int {
        let landing = LandingFiles(folder: folder, staging: staging)
        try landing.prepare()
        return try landing.verifiedPrefix(0, proofs: proofs(kind), kind: kind, chunkSize: chunkSize, size: size, written: written)
    }

    /// Flips one byte of `path` through a descriptor of its own: the same file, other content.
    private static func changeInPlace(_ path: String, at offset: Int) throws {
        let fd = open(path, O_RDWR)
        try #require(fd >= 0)
        defer { close(fd) }
        var byte: UInt8 = 0
        #expect(pread(fd, &byte, 1, off_t(offset)) == 1)
        byte ^= 0xff
        #expect(pwrite(fd, &byte, 1, off_t(offset)) == 1)
    }
}
