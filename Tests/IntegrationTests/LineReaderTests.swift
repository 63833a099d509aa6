#if canImport(Glibc)
import Glibc
#endif
@testable import kith
import Testing

/// The CLI's line reader on a real socket pair: a command following a push waits for the agent's
/// next event with a deadline, so a quiet socket must give nil without marking the stream ended,
/// a line split across writes must come out whole, and a closed peer must say so.
@Suite struct LineReaderTests {
    @Test func aDeadlineWithoutALineIsNotTheEnd() throws {
        let (ours, theirs) = try Self.socketPair()
        defer { close(ours); close(theirs) }
        var reader = LineReader(fd: ours)
        try Self.write("first\nsec", to: theirs)
        #expect(reader.next(timeoutMillis: 1000).map { String(decoding: $0, as: UTF8.self) } == "first")
        #expect(reader.next(timeoutMillis: 0) == nil)
        #expect(!reader.ended)
        try Self.write("ond\n", to: theirs)
        #expect(reader.next(timeoutMillis: 1000).map { String(decoding: $0, as: UTF8.self) } == "second")
    }

    @Test func aClosedPeerEndsTheStreamAfterItsLastLine() throws {
        let (ours, theirs) = try Self.socketPair()
        defer { close(ours) }
        var reader = LineReader(fd: ours)
        try Self.write("last\n", to: theirs)
        close(theirs)
        #expect(reader.next(timeoutMillis: 1000).map { String(decoding: $0, as: UTF8.self) } == "last")
        #expect(reader.next(timeoutMillis: 1000) == nil)
        #expect(reader.ended)
        #expect(reader.next() == nil, "an ended reader does not block")
    }

    static func socketPair() throws -> (Int32, Int32) {
        var fds: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0 else {
            throw SocketPairError()
        }
        return (fds[0], fds[1])
    }

    static func write(_ text: String, to fd: Int32) throws {
        let bytes = Array(text.utf8)
        guard send(fd, bytes, bytes.count, 0) == bytes.count else { throw SocketPairError() }
    }

    private struct SocketPairError: Error {}
}
