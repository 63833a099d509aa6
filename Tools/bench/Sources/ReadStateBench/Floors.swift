import Foundation
import KithAPI
#if canImport(Glibc)
import Glibc
#endif

// The floors under the read-state latency, measured in the same run: what any message between
// two processes on this machine costs at least, and what one local API call costs.

/// Loopback UDP round trips: a datagram to an echo socket served by a thread of this process,
/// and back. Blocking sockets, 32-byte payloads.
func udpRoundTrips(samples: Int) throws -> Samples {
    let echo = try udpSocket()
    let client = try udpSocket()
    defer { close(client) }
    var address = sockaddr_in(), length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(echo, $0, &length) }
    }
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, length) }
    }
    guard connected == 0 else { throw BenchError("UDP connect: errno \(errno)") }

    // The echo thread answers each datagram to its sender; an empty one tells it to stop.
    let echoThread = Thread {
        var buffer = [UInt8](repeating: 0, count: 64)
        var peer = sockaddr_storage(), peerLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
        while true {
            peerLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let n = withUnsafeMutablePointer(to: &peer) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(echo, &buffer, buffer.count, 0, $0, &peerLength) }
            }
            if n <= 0 { break }
            _ = withUnsafePointer(to: &peer) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(echo, buffer, n, 0, $0, peerLength) }
            }
        }
        close(echo)
    }
    echoThread.start()
    defer { _ = send(client, nil, 0, 0) }

    var timeout = timeval(tv_sec: 5, tv_usec: 0)  // a lost datagram fails the run instead of hanging it
    setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var result = Samples()
    var payload = [UInt8](repeating: 7, count: 32)
    for sample in 0..<(samples + 100) {  // the first 100 warm up caches and the scheduler
        let start = monotonicNanos()
        guard send(client, payload, payload.count, 0) == payload.count,
              recv(client, &payload, payload.count, 0) == payload.count else {
            throw BenchError("UDP echo failed: errno \(errno)")
        }
        if sample >= 100 { result.append(monotonicNanos() - start) }
    }
    return result
}

/// A UDP socket bound to 127.0.0.1 on a free port.
private func udpSocket() throws -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard fd >= 0, bound == 0 else { throw BenchError("UDP socket: errno \(errno)") }
    return fd
}

/// Round trips of the local API's cheapest call, `status`, on one connection: the part of a
/// read's latency that is the socket and the agent's request handling, not the read state.
func statusRoundTrips(_ client: LocalAPIClient, samples: Int) throws -> Samples {
    let line = LocalAPIClient.line(StatusRequest())
    var result = Samples()
    for sample in 0..<(samples + 100) {
        let start = monotonicNanos()
        let response = try client.exchange(line)
        let elapsed = monotonicNanos() - start
        if sample == 0 { _ = try LocalAPIClient.decode(response, as: EmptyResult.self, from: "\(client.name) status") }
        if sample >= 100 { result.append(elapsed) }
    }
    return result
}

/// Durable 4 KiB writes in `directory` (where the server's and agents' SQLite stores live), each
/// followed by fsync: the cost of the commits on a read's path. `growing`: each write appends,
/// so the file's size changes too (as a WAL that grows); otherwise it overwrites a block of a
/// file written before (as a WAL reused after a checkpoint).
func fsyncs(in directory: URL, samples: Int, growing: Bool) throws -> Samples {
    let path = directory.appendingPathComponent("fsync-probe").path
    let fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0o600)
    guard fd >= 0 else { throw BenchError("cannot create \(path): errno \(errno)") }
    defer { close(fd); unlink(path) }
    let block = [UInt8](repeating: 0x5a, count: 4096)
    if !growing {
        for i in 0..<samples { _ = pwrite(fd, block, block.count, off_t(i * block.count)) }
        fsync(fd)
    }
    var result = Samples()
    for i in 0..<samples {
        guard pwrite(fd, block, block.count, off_t(i * block.count)) == block.count else {
            throw BenchError("write to \(path): errno \(errno)")
        }
        let start = monotonicNanos()
        fsync(fd)
        result.append(monotonicNanos() - start)
    }
    return result
}
