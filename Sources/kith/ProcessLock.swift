import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A lock file held with flock for a process's lifetime, with its pid inside: one agent per
/// profile (`agent.lock`), one server per data folder (`server.lock`). The kernel drops it when the
/// process ends, however it ends, so a crash never leaves a stale lock.
final class ProcessLock {
    private let fd: Int32

    /// Nil when another process holds it.
    init?(_ file: URL) {
        fd = open(file.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0, flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            if fd >= 0 { close(fd) }
            return nil
        }
        ftruncate(fd, 0)
        let pid = Array("\(getpid())\n".utf8)
        _ = pid.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }

    deinit { close(fd) }

    /// The pid of the process holding the lock, if one does (-1 when it wrote none).
    static func holder(_ file: URL) -> Int32? {
        let fd = open(file.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        guard flock(fd, LOCK_SH | LOCK_NB) != 0 else {
            flock(fd, LOCK_UN)
            return nil
        }
        let text = (try? String(contentsOfFile: file.path, encoding: .utf8)) ?? ""
        return Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }
}
