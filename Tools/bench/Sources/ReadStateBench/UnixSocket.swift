import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Plain POSIX calls for an agent's local API socket (a Unix stream socket).
enum UnixSocket {
    /// A stream socket connected to `path`. With `receiveTimeout` > 0, a read that waits longer
    /// fails (so a silent agent ends the run instead of hanging it).
    static func open(_ path: String, receiveTimeout seconds: Int) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BenchError("socket(): errno \(errno)") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(fd)
            throw BenchError("the socket path \(path) is too long")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else {
            let code = errno
            close(fd)
            throw BenchError("cannot connect to \(path): errno \(code)")
        }
        if seconds > 0 {
            var timeout = timeval(tv_sec: seconds, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }
        return fd
    }

    /// Writes all of `bytes` (MSG_NOSIGNAL: a closed peer is an error, not a SIGPIPE).
    static func sendAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw BenchError("the agent closed its socket (errno \(errno))") }
            offset += n
        }
    }
}

/// Splits what a stream socket delivers into lines (without their `\n`). Each line is copied
/// out once; consumed bytes are dropped in bulk, so a long line (a `viewed` event listing 10,000
/// codes) costs linear time.
struct LineReader {
    let fd: Int32
    private var buffer: [UInt8] = []
    private var start = 0    // the first byte not yet returned
    private var scanned = 0  // buffer[start..<scanned] holds no newline

    init(fd: Int32) { self.fd = fd }

    /// The next line; nil once the peer closed the connection. Throws on a receive timeout.
    mutating func next() throws -> [UInt8]? {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            if let newline = buffer[scanned...].firstIndex(of: 0x0a) {
                let line = Array(buffer[start..<newline])
                start = newline + 1
                scanned = start
                return line
            }
            scanned = buffer.count
            if start > 0 {  // drop what was returned before reading more
                buffer.removeFirst(start)
                scanned -= start
                start = 0
            }
            let n = recv(fd, &chunk, chunk.count, 0)
            if n < 0 && errno == EINTR { continue }
            if n < 0 { throw BenchError("no answer from the agent (errno \(errno))") }
            if n == 0 { return nil }
            buffer += chunk[0..<n]
        }
    }
}
