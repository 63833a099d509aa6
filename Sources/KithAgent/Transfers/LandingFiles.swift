import Foundation
import KithCore
#if canImport(Glibc)
import Glibc
#endif

/// A system call that failed, with its errno kept so disk-full can be told from the rest.
struct FileSystemError: Error, CustomStringConvertible {
    let operation: String
    let path: String
    let code: Int32
    var isNoSpace: Bool { code == ENOSPC || code == EDQUOT }
    var description: String { "\(operation) \(path): \(String(cString: strerror(code)))" }

    static func check(_ result: Int32, _ operation: String, _ path: String) throws {
        if result < 0 { throw FileSystemError(operation: operation, path: path, code: errno) }
    }
}

/// The receiving side's disk: partial copies in a hidden staging folder inside the landing
/// folder (so the final move is a rename on one file system), folders created without following
/// links, files moved into place without replacing anything. Every name it gets has passed
/// `TransferName` already; this layer adds the checks only the disk can answer.
final class LandingFiles {
    let folder: String
    let staging: String
    private var open: [Int: Int32] = [:]
    private var dirty: Set<Int> = []
    /// Per file: where the written range not yet handed to the kernel's writeback starts.
    private var writebackFrom: [Int: UInt64] = [:]
    /// Start writeback every this many bytes, so dirty pages never pile up: on ext4 a commit of
    /// the agent's database (fsync) otherwise waits for all of them, and notes stall behind a transfer.
    static let writebackEvery: UInt64 = 1 << 20

    /// Linux's sync_file_range(2), which Swift's Glibc module does not export; nil elsewhere.
    private typealias SyncFileRange = @convention(c) (Int32, Int64, Int64, UInt32) -> Int32
    private static let startWriteback: SyncFileRange? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sync_file_range")
        .map { unsafeBitCast($0, to: SyncFileRange.self) }
    /// SYNC_FILE_RANGE_WRITE: start writing back dirty pages of the range, without waiting.
    private static let syncFileRangeWrite: UInt32 = 2

    init(folder: String, staging: String) {
        self.folder = folder
        self.staging = staging
    }

    deinit { for fd in open.values { close(fd) } }

    /// The landing and staging folders, created if missing (the landing folder with its parents).
    func prepare() throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var info = stat()
        try FileSystemError.check(lstat(folder, &info), "stat", folder)
        guard info.st_mode & S_IFMT == S_IFDIR else { throw FileSystemError(operation: "use", path: folder, code: ENOTDIR) }
        if mkdir(staging, 0o700) != 0 && errno != EEXIST { throw FileSystemError(operation: "mkdir", path: staging, code: errno) }
        try FileSystemError.check(lstat(staging, &info), "stat", staging)
        guard info.st_mode & S_IFMT == S_IFDIR else { throw FileSystemError(operation: "use", path: staging, code: ENOTDIR) }
    }

    /// A free name for a top-level folder, created now so nothing else takes it.
    func reserveFolder(_ name: String) throws -> String {
        while true {
            let free = TransferName.free(name, isFile: false) { self.exists(self.folder + "/" + $0) }
            if mkdir(folder + "/" + free, 0o755) == 0 { return free }
            if errno != EEXIST { throw FileSystemError(operation: "mkdir", path: folder + "/" + free, code: errno) }
        }
    }

    /// Creates `components` (under the landing folder) as folders, refusing to pass through a link.
    func makeFolders(_ components: ArraySlice<String>) throws {
        var path = folder
        for component in components {
            path += "/" + component
            if mkdir(path, 0o755) == 0 { continue }
            guard errno == EEXIST else { throw FileSystemError(operation: "mkdir", path: path, code: errno) }
            var info = stat()
            try FileSystemError.check(lstat(path, &info), "stat", path)
            guard info.st_mode & S_IFMT == S_IFDIR else { throw FileSystemError(operation: "use", path: path, code: ENOTDIR) }
        }
    }

    func partialPath(_ file: Int) -> String { staging + "/\(file).part" }

    /// Bytes the partial copy of `file` holds (0 if there is none).
    func partialSize(_ file: Int) -> UInt64 {
        var info = stat()
        guard lstat(partialPath(file), &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return 0 }
        return UInt64(info.st_size)
    }

    private func descriptor(_ file: Int) throws -> Int32 {
        if let fd = open[file] { return fd }
        let path = partialPath(file)
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        try FileSystemError.check(fd, "open", path)
        open[file] = fd
        return fd
    }

    func write(file: Int, offset: UInt64, data: [UInt8]) throws {
        let fd = try descriptor(file)
        var done = 0
        while done < data.count {
            let n = data.withUnsafeBytes { pwrite(fd, $0.baseAddress! + done, data.count - done, off_t(offset) + off_t(done)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileSystemError(operation: "write", path: partialPath(file), code: errno)
            }
            done += n
        }
        dirty.insert(file)
        let from = writebackFrom[file] ?? offset
        let end = offset + UInt64(data.count)
        if end >= from + Self.writebackEvery {
            _ = Self.startWriteback?(fd, Int64(from), Int64(end - from), Self.syncFileRangeWrite)
            writebackFrom[file] = end
        } else if writebackFrom[file] == nil {
            writebackFrom[file] = from
        }
    }

    /// Makes everything written so far durable.
    func sync() throws {
        for file in dirty.sorted() {
            if let fd = open[file] { try FileSystemError.check(fdatasync(fd), "sync", partialPath(file)) }
        }
        dirty = []
    }

    /// Moves a verified file into place at `components` under the landing folder (whose first
    /// component is already the landed name), without replacing anything there: a taken
    /// top-level file name gets " (1)" and so on; returns the name it got at its level.
    func place(file: Int, components: [String], mode: UInt32) throws -> String {
        let fd = try descriptor(file)  // an empty file was never written: create it now
        try FileSystemError.check(fchmod(fd, mode_t(mode & 0o777)), "chmod", partialPath(file))
        try FileSystemError.check(fsync(fd), "sync", partialPath(file))
        close(fd)
        open[file] = nil
        dirty.remove(file)
        try makeFolders(components.dropLast())
        let parent = ([folder] + components.dropLast()).joined(separator: "/")
        let name = components.last!
        while true {
            let free = TransferName.free(name, isFile: true) { self.exists(parent + "/" + $0) }
            // link() never replaces an existing name; then the partial name goes.
            if link(partialPath(file), parent + "/" + free) == 0 {
                unlink(partialPath(file))
                return free
            }
            if errno != EEXIST { throw FileSystemError(operation: "link", path: parent + "/" + free, code: errno) }
        }
    }

    /// Bytes free for an unprivileged writer on the landing folder's file system.
    func freeBytes() -> UInt64? {
        var info = statvfs()
        guard statvfs(staging, &info) == 0 else { return nil }
        return UInt64(info.f_bavail) * UInt64(info.f_frsize)
    }

    /// Removes the staging folder and what is left in it.
    func removeStaging() {
        for fd in open.values { close(fd) }
        open = [:]
        try? FileManager.default.removeItem(atPath: staging)
    }

    private func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }
}
