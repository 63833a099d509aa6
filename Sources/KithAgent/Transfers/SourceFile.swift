import KithCore
#if canImport(Glibc)
import Glibc
#endif

/// A file being sent, read by offset. It must stay the size it was offered at; reading a chunk
/// that is not all there means it changed, which ends the transfer (a resend could not match).
final class SourceFile {
    let path: String
    private let fd: Int32

    init(path: String, expectedSize: UInt64, modifiedNanos: Int64? = nil) throws {
        self.path = path
        fd = open(path, O_RDONLY | O_CLOEXEC)
        try FileSystemError.check(fd, "open", path)
        var info = stat()
        guard fstat(fd, &info) == 0, UInt64(info.st_size) == expectedSize,
              modifiedNanos == nil || Self.modifiedNanos(info) == modifiedNanos else {
            close(fd)
            throw TransferError("\(path) changed after it was offered (size or modification time)", fatal: true)
        }
    }

    static func modifiedNanos(_ info: stat) -> Int64 {
        Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
    }

    deinit { close(fd) }

    /// `range` in pieces of at most `piece` bytes, each read straight into its own array.
    func read(_ range: (offset: UInt64, length: Int), pieces piece: Int) throws -> [[UInt8]] {
        var pieces: [[UInt8]] = []
        var done = 0
        while done < range.length {
            let length = min(piece, range.length - done)
            pieces.append(try read((range.offset + UInt64(done), length)))
            done += length
        }
        return pieces
    }

    func read(_ range: (offset: UInt64, length: Int)) throws -> [UInt8] {
        var failure: Int32 = 0
        let bytes = [UInt8](unsafeUninitializedCapacity: range.length) { buffer, count in
            count = 0
            while count < range.length {
                let n = pread(fd, buffer.baseAddress! + count, range.length - count, off_t(range.offset) + off_t(count))
                if n < 0 && errno == EINTR { continue }
                if n < 0 { failure = errno; return }
                if n == 0 { return }
                count += n
            }
        }
        if failure != 0 { throw FileSystemError(operation: "read", path: path, code: failure) }
        guard bytes.count == range.length else {
            throw TransferError("\(path) is shorter than when it was offered (it changed)", fatal: true)
        }
        return bytes
    }
}

/// Holds a sender to `bytesPerSecond` (nil: as fast as the path goes).
struct Pacer {
    let bytesPerSecond: UInt64?
    private let start = ContinuousClock.now
    private var sent: UInt64 = 0

    init(bytesPerSecond: UInt64?) { self.bytesPerSecond = bytesPerSecond }

    mutating func pace(_ bytes: UInt64) async {
        guard let rate = bytesPerSecond, rate > 0 else { return }
        sent += bytes
        let due = start + .milliseconds(Int64(sent * 1000 / rate))
        if due > ContinuousClock.now { try? await Task.sleep(until: due, clock: .continuous) }
    }
}
