import Foundation
import KithAPI
import KithCrypto
import NIOCore
import NIOHTTP1

/// The watch page's answers: every one closes its connection, is never cached, and carries no
/// CORS header (no other origin may read it). The page gets a content security policy that lets
/// it run only its own inline script and talk only to its own origin.
struct WatchPageWriter {
    let outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>

    private static let common: [(String, String)] = [
        ("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer"),
    ]

    /// A whole answer; 403 and 404 have no body and say nothing more.
    func answer(_ status: HTTPResponseStatus, headers: [(String, String)] = [], body: [UInt8] = []) async throws {
        let extra = status == .forbidden ? [] : Self.common + headers
        let head = HTTPResponseHead(version: .http1_1, status: status,
                                    headers: HTTPHeaders(extra + [("Content-Length", "\(body.count)"), ("Connection", "close")]))
        try await outbound.write(.head(head))
        if !body.isEmpty { try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: body)))) }
        try await outbound.write(.end(nil))
    }

    /// `GET /`: the page, its script and style allowed by a nonce of this answer only.
    func page() async throws {
        let nonce = secureRandomBytes(16).hexString
        let policy = "default-src 'none'; script-src 'nonce-\(nonce)'; style-src 'nonce-\(nonce)'; connect-src 'self'; "
            + "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        try await answer(.ok, headers: [("Content-Type", "text/html; charset=utf-8"), ("Content-Security-Policy", policy),
                                        ("X-Frame-Options", "DENY")],
                         body: Array(WatchPageHTML.page(nonce: nonce).utf8))
    }

    /// A JSON answer; the account's failure is a 500 whose body says it.
    func json<T: Encodable>(_ body: () async throws -> T) async throws {
        let encoded: Data
        do {
            encoded = try JSONEncoder().encode(try await body())
        } catch {
            let message = (error as? AgentError)?.message ?? "\(error)"
            return try await answer(.internalServerError, headers: [("Content-Type", "application/json")],
                                    body: Array((try? JSONEncoder().encode(["error": message])) ?? Data()))
        }
        try await answer(.ok, headers: [("Content-Type", "application/json")], body: Array(encoded))
    }

    /// The head of an event stream (chunked: it has no length).
    func startStream() async throws {
        try await outbound.write(.head(HTTPResponseHead(version: .http1_1, status: .ok,
                                                        headers: HTTPHeaders(Self.common + [("Content-Type", "text/event-stream")]))))
    }

    /// One event: a single `data:` line (JSON has no raw newline).
    func event(_ state: WatchResult) async throws {
        try await write("data: " + String(decoding: try JSONEncoder().encode(state), as: UTF8.self) + "\n\n")
    }

    func keepalive() async throws {
        try await write(": keepalive\n\n")
    }

    private func write(_ text: String) async throws {
        try await outbound.write(.body(.byteBuffer(ByteBuffer(string: text))))
    }
}
