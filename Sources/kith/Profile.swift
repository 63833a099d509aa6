import Foundation
import KithCrypto
#if canImport(Glibc)
import Glibc
#endif

/// Where one device's state lives: its identity now, its store later.
struct Profile {
    let directory: URL

    var identityFile: URL { directory.appendingPathComponent("identity.seed") }

    /// `--profile`, else `$KITH_PROFILE`, else `$XDG_DATA_HOME/kith/default` (`~/.local/share/kith/default`).
    init(_ option: String?) {
        let env = ProcessInfo.processInfo.environment
        if let path = option ?? env["KITH_PROFILE"], !path.isEmpty {
            directory = URL(fileURLWithPath: path)
        } else {
            let data = env["XDG_DATA_HOME"].map { URL(fileURLWithPath: $0) }
                ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".local/share")
            directory = data.appendingPathComponent("kith/default")
        }
    }

    struct Failure: Error, CustomStringConvertible { let description: String }

    /// The device's identity, made and stored (mode 0600) on first use.
    func identity() throws -> (identity: DeviceIdentity, created: Bool) {
        if let data = FileManager.default.contents(atPath: identityFile.path) {
            guard let identity = DeviceIdentity(seed: [UInt8](data)) else {
                throw Failure(description: "\(identityFile.path) is not a Kith identity (expected 32 bytes, found \(data.count))")
            }
            return (identity, false)
        }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let identity = DeviceIdentity.generate()
        var seed = identity.unsafeSeed
        defer { wipe(&seed) }
        try writePrivately(seed, to: identityFile)
        return (identity, true)
    }

    /// Writes a secret: created 0600 from the start (never world-readable for a moment),
    /// flushed to disk, then renamed into place so a crash leaves the old file or the new one.
    private func writePrivately(_ bytes: [UInt8], to url: URL) throws {
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
