import Foundation
import KithCore
import KithCrypto
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
///
/// Everything below the landing folder goes through directory descriptors (`openat` with
/// `O_NOFOLLOW | O_DIRECTORY`, `mkdirat`, `linkat`, `unlinkat`): a folder swapped for a symbolic
/// link while files land cannot send one outside, because no path is looked up twice. A partial
/// copy is trusted only as far as this process wrote it: a new one is created `O_EXCL`, one left
/// by an earlier run must be a regular file of ours with one link, its verified chunks are read
/// back and proved again (`verifiedPrefix`) and what lies beyond them is cut off; before a file is
/// moved into place its size and link count are checked on the descriptor it was written through.
final class LandingFiles {
    let folder: String
    let staging: String
    private var folderFD: Int32 = -1
    private var stagingFD: Int32 = -1
    private var stagingName: String { (staging as NSString).lastPathComponent }
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
    private static let directoryFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC

    /// `staging` is a folder directly inside `folder`.
    init(folder: String, staging: String) {
        self.folder = folder
        self.staging = staging
    }

    deinit {
        for fd in open.values { close(fd) }
        if stagingFD >= 0 { close(stagingFD) }
        if folderFD >= 0 { close(folderFD) }
    }

    /// The landing and staging folders, created if missing (the landing folder with its parents),
    /// and opened: from here on nothing below them is looked up by path. The staging folder must
    /// be this user's and private (one made by someone else beforehand is refused).
    func prepare() throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        folderFD = Glibc.open(folder, Self.directoryFlags)
        try FileSystemError.check(folderFD, "open folder", folder)
        if mkdirat(folderFD, stagingName, 0o700) != 0 && errno != EEXIST {
            throw FileSystemError(operation: "mkdir", path: staging, code: errno)
        }
        stagingFD = openat(folderFD, stagingName, Self.directoryFlags)
        try FileSystemError.check(stagingFD, "open folder", staging)
        var info = stat()
        try FileSystemError.check(fstat(stagingFD, &info), "stat", staging)
        guard info.st_uid == geteuid(), info.st_mode & 0o077 == 0 else {
            throw FileSystemError(operation: "use (not this user's private folder)", path: staging, code: EPERM)
        }
    }

    /// A free name for a top-level folder, created now so nothing else takes it.
    func reserveFolder(_ name: String) throws -> String {
        while true {
            let free = TransferName.free(name, isFile: false) { self.exists($0, in: self.folderFD) }
            if mkdirat(folderFD, free, 0o755) == 0 { return free }
            if errno != EEXIST { throw FileSystemError(operation: "mkdir", path: folder + "/" + free, code: errno) }
        }
    }

    /// Creates `components` (under the landing folder) as folders, refusing to pass through a link.
    func makeFolders(_ components: ArraySlice<String>) throws {
        close(try openFolders(components))
    }

    /// `makeFolders`, keeping a descriptor of the last folder open for the caller (who closes it).
    private func openFolders(_ components: ArraySlice<String>) throws -> Int32 {
        var parent = dup(folderFD)
        try FileSystemError.check(parent, "open folder", folder)
        var path = folder
        for component in components {
            path += "/" + component
            if mkdirat(parent, component, 0o755) != 0 && errno != EEXIST {
                let code = errno
                close(parent)
                throw FileSystemError(operation: "mkdir", path: path, code: code)
            }
            let child = openat(parent, component, Self.directoryFlags)
            let code = errno
            close(parent)
            // ELOOP: a symbolic link; ENOTDIR: a file. Either way not a way in.
            guard child >= 0 else { throw FileSystemError(operation: "open folder", path: path, code: code) }
            parent = child
        }
        return parent
    }

    func partialName(_ file: Int) -> String { "\(file).part" }
    private func partialPath(_ file: Int) -> String { staging + "/" + partialName(file) }

    /// How many of `proofs` (of the verified chunks of `file`, in order, of the kind `kind`) its
    /// partial copy still holds; the copy is cut after them. A copy that is not a regular file of
    /// this user with one link (a planted hard link) is deleted: it holds none. With `written`, what this process
    /// wrote into it, the same file (device and inode) of at least that many chunks' size holds
    /// them without being read; any other copy is read back and proved again (after a restart).
    func verifiedPrefix(_ file: Int, proofs: [[UInt8]], kind: ChunkProofs, chunkSize: UInt64, size: UInt64,
                        written: WrittenPartial? = nil) throws -> Int {
        guard !proofs.isEmpty else { return 0 }
        let fd = openat(stagingFD, partialName(file), O_RDWR | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return 0 }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_nlink == 1, info.st_uid == geteuid() else {
            close(fd)
            unlinkat(stagingFD, partialName(file), 0)
            return 0
        }
        let held = if let written, written.isSame(as: info),
                      UInt64(info.st_size) >= min(UInt64(min(written.chunks, proofs.count)) * chunkSize, size) {
            min(written.chunks, proofs.count)
        } else {
            Self.provedPrefix(fd, file: UInt32(file), proofs: proofs, kind: kind, chunkSize: chunkSize, size: size)
        }
        let keep = min(UInt64(held) * chunkSize, size)
        if UInt64(info.st_size) != keep { try FileSystemError.check(ftruncate(fd, off_t(keep)), "truncate", partialPath(file)) }
        open[file] = fd
        return held
    }

    /// What this process has written into `file`'s partial copy, with `chunks` verified and
    /// durable in it; nil if it has no copy open.
    func written(_ file: Int, chunks: Int) -> WrittenPartial? {
        open[file].flatMap { WrittenPartial(of: $0, chunks: chunks) }
    }

    /// How many of `proofs` the copy behind `fd` holds, read back and proved chunk by chunk.
    private static func provedPrefix(_ fd: Int32, file: UInt32, proofs: [[UInt8]], kind: ChunkProofs,
                                     chunkSize: UInt64, size: UInt64) -> Int {
        let prover = kind.prover()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var held = 0
        chunks: for (index, expected) in proofs.enumerated() {
            prover.start(file: file, chunk: UInt32(index))
            let start = UInt64(index) * chunkSize
            let end = min(start + chunkSize, size)
            var offset = start
            while offset < end {
                let want = Int(min(UInt64(buffer.count), end - offset))
                let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, want, off_t(offset)) }
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { break chunks }
                buffer.withUnsafeBytes { prover.update(UnsafeRawBufferPointer(rebasing: $0[..<n])) }
                offset += UInt64(n)
            }
            guard prover.finish() == expected else { break }
            held = index + 1
        }
        return held
    }

    /// The descriptor `file` is written through: the one `verifiedPrefix` checked, else a new
    /// partial copy (whatever had its name before is removed first, so nothing planted is used).
    private func descriptor(_ file: Int) throws -> Int32 {
        if let fd = open[file] { return fd }
        if unlinkat(stagingFD, partialName(file), 0) != 0 && errno != ENOENT {
            throw FileSystemError(operation: "remove", path: partialPath(file), code: errno)
        }
        let fd = openat(stagingFD, partialName(file), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        try FileSystemError.check(fd, "create", partialPath(file))
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

    /// Moves a verified file of `size` bytes into place at `components` under the landing folder
    /// (whose first component is already the landed name), without replacing anything there: a
    /// taken name gets " (1)" and so on; returns the name it got at its level.
    func place(file: Int, components: [String], size: UInt64, mode: UInt32) throws -> String {
        let fd = try descriptor(file)  // an empty file was never written: create it now
        var info = stat()
        try FileSystemError.check(fstat(fd, &info), "stat", partialPath(file))
        guard info.st_nlink == 1, UInt64(info.st_size) == size else {
            // Every chunk matched its hash as it came; what is on the disk is not what came.
            throw FileSystemError(operation: "check (\(info.st_size) bytes, \(info.st_nlink) links; \(size) bytes came)",
                                  path: partialPath(file), code: EIO)
        }
        try FileSystemError.check(fchmod(fd, mode_t(mode & 0o777)), "chmod", partialPath(file))
        try FileSystemError.check(fsync(fd), "sync", partialPath(file))
        defer {
            close(fd)
            open[file] = nil
            dirty.remove(file)
        }
        let parent = try openFolders(components.dropLast()[...])
        defer { close(parent) }
        let name = components.last!
        while true {
            let free = TransferName.free(name, isFile: true) { self.exists($0, in: parent) }
            // linkat() never replaces an existing name; then the partial name goes.
            if Self.link(fd, orName: partialName(file), in: stagingFD, to: free, in: parent) == 0 {
                unlinkat(stagingFD, partialName(file), 0)
                return free
            }
            if errno != EEXIST { throw FileSystemError(operation: "link", path: folder + "/" + components.joined(separator: "/"), code: errno) }
        }
    }

    /// Links the file behind `fd` — the one checked, not whatever its name points to by now —
    /// as `newName`, through /proc/self/fd (linkat's AT_EMPTY_PATH needs a privilege); by its
    /// name only where /proc is not mounted.
    private static func link(_ fd: Int32, orName name: String, in directory: Int32, to newName: String, in parent: Int32) -> Int32 {
        let result = linkat(AT_FDCWD, "/proc/self/fd/\(fd)", parent, newName, AT_SYMLINK_FOLLOW)
        if result != 0 && errno == ENOENT && access("/proc/self/fd", F_OK) != 0 {
            return linkat(directory, name, parent, newName, 0)
        }
        return result
    }

    /// Bytes free for an unprivileged writer on the landing folder's file system.
    func freeBytes() -> UInt64? {
        var info = statvfs()
        guard stagingFD >= 0, fstatvfs(stagingFD, &info) == 0 else { return nil }
        return UInt64(info.f_bavail) * UInt64(info.f_frsize)
    }

    /// Removes the staging folder and what is left in it (only regular files: that is all it holds).
    func removeStaging() {
        for fd in open.values { close(fd) }
        open = [:]
        guard folderFD >= 0, stagingFD >= 0 else { return }
        let listing = dup(stagingFD)
        if listing >= 0, let directory = fdopendir(listing) {
            var names: [String] = []
            while let entry = readdir(directory) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
                if name != "." && name != ".." { names.append(name) }
            }
            closedir(directory)
            for name in names { unlinkat(stagingFD, name, 0) }
        }
        unlinkat(folderFD, stagingName, AT_REMOVEDIR)
    }

    /// Removes an abandoned transfer's staging folder (`staging`, directly inside its landing
    /// folder) as `removeStaging` does, through descriptors: nothing if either folder is gone or
    /// the staging folder is now a link.
    static func removeStaging(at staging: String) {
        let landing = LandingFiles(folder: (staging as NSString).deletingLastPathComponent, staging: staging)
        landing.folderFD = Glibc.open(landing.folder, directoryFlags)
        guard landing.folderFD >= 0 else { return }
        landing.stagingFD = openat(landing.folderFD, landing.stagingName, directoryFlags)
        landing.removeStaging()
    }

    private func exists(_ name: String, in directory: Int32) -> Bool {
        var info = stat()
        return fstatat(directory, name, &info, AT_SYMLINK_NOFOLLOW) == 0
    }
}

/// A partial copy this process wrote, and how many of its chunks were verified and durable: a
/// stream that resumes the transfer in the same run trusts that file instead of reading it back
/// (only a restart makes the agent read its copies again). It holds a descriptor of the file, so
/// while it lives no other file can take the same device and inode numbers.
final class WrittenPartial: Sendable {
    let device: UInt64
    let inode: UInt64
    let chunks: Int
    private let fd: Int32

    /// Keeps its own duplicate of `fd`; nil if that cannot be had.
    init?(of fd: Int32, chunks: Int) {
        var info = stat()
        let kept = dup(fd)
        guard kept >= 0 else { return nil }
        guard fstat(kept, &info) == 0 else {
            close(kept)
            return nil
        }
        self.fd = kept
        self.device = UInt64(info.st_dev)
        self.inode = UInt64(info.st_ino)
        self.chunks = chunks
    }

    deinit { close(fd) }

    func isSame(as info: stat) -> Bool { device == UInt64(info.st_dev) && inode == UInt64(info.st_ino) }
}
