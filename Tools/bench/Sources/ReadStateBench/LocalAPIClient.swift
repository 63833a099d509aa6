import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A blocking client of one agent's local API: one connection, one JSON request line out, one
/// JSON response line back (Protocol/local-api.md). Used from one thread at a time.
final class LocalAPIClient {
    let name: String
    private let fd: Int32
    private var lines: LineReader

    init(_ device: Device, timeoutSeconds: Int = 300) throws {
        name = device.name
        fd = try UnixSocket.open(device.socket, receiveTimeout: timeoutSeconds)
        lines = LineReader(fd: fd)
    }

    deinit { close(fd) }

    /// The request line for `method`, encoded ahead of any timing.
    static func line(_ method: String, _ params: Request.Params = .init()) -> [UInt8] {
        // Encoding this plain struct cannot fail.
        Array(try! JSONEncoder().encode(Request(method: method, params: params))) + [0x0a]
    }

    /// Sends a prepared request line and returns the response line, undecoded.
    func exchange(_ line: [UInt8]) throws -> [UInt8] {
        try UnixSocket.sendAll(fd, line)
        guard let response = try lines.next() else { throw BenchError("\(name): the agent closed the connection") }
        return response
    }

    /// Sends a request and returns its decoded result; the agent's error becomes a thrown one.
    func call<R: Decodable>(_ method: String, _ params: Request.Params = .init(), as _: R.Type = R.self) throws -> R {
        try Self.decode(try exchange(Self.line(method, params)), as: R.self, from: "\(name) \(method)")
    }

    static func decode<R: Decodable>(_ line: [UInt8], as _: R.Type, from what: String) throws -> R {
        let response: Response<R>
        do {
            response = try JSONDecoder().decode(Response<R>.self, from: Data(line))
        } catch {
            throw BenchError("\(what): cannot decode \(String(decoding: line.prefix(300), as: UTF8.self)): \(error)")
        }
        guard response.ok, let result = response.result else {
            throw BenchError("\(what) failed: \(response.error.map { "\($0.code): \($0.message)" } ?? "no result")")
        }
        return result
    }
}
