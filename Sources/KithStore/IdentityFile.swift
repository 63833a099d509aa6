import Foundation
import KithCrypto
#if canImport(Glibc)
import Glibc
#endif

/// A device's or a server's identity seed on disk: 32 bytes, mode 0600, in a 0700 directory,
/// made on first use.
public enum IdentityFile {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// The identity in `directory/identity.seed`, made (and the directory too) if missing.
    public static func loadOrCreate(in directory: URL) throws -> (identity: DeviceIdentity, created: Bool) {
        let file = directory.appendingPathComponent("identity.seed")
        if let data = FileManager.default.contents(atPath: file.path) {
            guard let identity = DeviceIdentity(seed: [UInt8](data)) else {
                throw Failure(description: "\(file.path) is not a Kith identity (expected 32 bytes, found \(data.count))")
            }
            return (identity, false)
        }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let identity = DeviceIdentity.generate()
        var seed = identity.unsafeSeed
        defer { wipe(&seed) }
        try writePrivately(seed, to: file)
        return (identity, true)
    }

    /// Writes a secret: created 0600 from the start (never readable by others for a moment),
    /// flushed to disk, then renamed into place, so a crash leaves the old file or the new one.
    public static func writePrivately(_ bytes: [UInt8], to url: URL) throws {
        let temporary = url.path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Failure(description: "cannot create \(temporary): \(String(cString: strerror(errno)))") }
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == bytes.count, synced, rename(temporary, url.path) == 0 else {
            unlink(temporary)
            throw Failure(description: "cannot write \(url.path): \(String(cString: strerror(errno)))")
        }
    }
}
