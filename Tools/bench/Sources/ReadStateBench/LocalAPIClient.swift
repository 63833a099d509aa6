import Foundation
import KithAPI
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

    /// The request line for `request`, encoded ahead of any timing.
    static func line<R: APIRequest>(_ request: R) -> [UInt8] {
        // Encoding a request (strings, numbers and booleans) cannot fail.
        try! APICodec.encode(request)
    }

    /// Sends a prepared request line and returns the response line, undecoded.
    func exchange(_ line: [UInt8]) throws -> [UInt8] {
        try UnixSocket.sendAll(fd, line)
        guard let response = try lines.next() else { throw BenchError("\(name): the agent closed the connection") }
        return response
    }

    /// Sends a request and returns its decoded result; the agent's error becomes a thrown one.
    func call<R: APIRequest>(_ request: R) throws -> R.Result {
        try Self.decode(try exchange(Self.line(request)), as: R.Result.self, from: "\(name) \(R.method.rawValue)")
    }

    /// A response line's result; `{"ok": false, …}` becomes a thrown error naming its code.
    static func decode<Result: Codable & Sendable>(_ line: [UInt8], as _: Result.Type, from what: String) throws -> Result {
        let response: AgentResponse<Result>
        do {
            response = try APICodec.response(Result.self, from: line)
        } catch {
            throw BenchError("\(what): cannot decode \(String(decoding: line.prefix(300), as: UTF8.self)): \(error)")
        }
        guard response.ok, let result = response.result else {
            throw BenchError("\(what) failed: \(response.error.map { "\($0.code.rawValue): \($0.message)" } ?? "no result")")
        }
        return result
    }
}
