import Foundation
import KithAPI
import KithCore
import KithCrypto
import KithWatch
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// The watcher's web page (Protocol/local-api.md §The watch page): served on 127.0.0.1 at a free
/// port under a fresh page key, one request per connection; `WatchPageGate` decides every request
/// before anything is asked of the account.
///
/// HTTP comes from SwiftNIO's own HTTP/1 handlers (NIOHTTP1), not Hummingbird: it is no new
/// package (CI builds from a clean clone on every run, and Hummingbird would cost minutes of
/// build), the agent is a NIO program already, and the page has four routes.
final class WatchPageServer: Sendable {
    /// What the page shows, from the account it is for.
    struct Source: Sendable {
        /// The account's name, as events name it.
        var account: String
        var watch: @Sendable () async throws -> WatchResult
        var messages: @Sendable (String) async throws -> [MessageEntry]
        var read: @Sendable (String) async throws -> Void
        var events: @Sendable () async -> AsyncStream<AgentEvent>
    }

    /// Seconds between the event stream's keepalive comments.
    static let keepaliveSeconds: Int64 = 15
    /// Messages `GET /messages` answers with, the newest.
    static let messageLimit = 20

    let gate: WatchPageGate
    private let channel: any Channel
    private let accepting: Task<Void, Never>

    private init(gate: WatchPageGate, channel: any Channel, accepting: Task<Void, Never>) {
        (self.gate, self.channel, self.accepting) = (gate, channel, accepting)
    }

    typealias Connection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>

    static func start(watched: [String], source: Source, logger: Logger, group: any EventLoopGroup) async throws -> WatchPageServer {
        let admission = NIOLockedValueBox(ConnectionAdmission(limits: WatchPageGuard.limits))
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "127.0.0.1", port: 0) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(WatchPageGuard(admission: admission))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: false)
                    return try Connection(wrappingChannelSynchronously: channel)
                }
            }
        let gate = WatchPageGate(key: secureRandomBytes(32).hexString, port: server.channel.localAddress?.port ?? 0, watched: watched)
        let accepting = Task<Void, Never> {
            _ = try? await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { inbound in
                    for try await connection in inbound {
                        group.addTask { await serve(connection, gate: gate, source: source, logger: logger) }
                    }
                }
            }
        }
        logger.info("the watch page is open on 127.0.0.1:\(gate.port)")
        return WatchPageServer(gate: gate, channel: server.channel, accepting: accepting)
    }

    /// Closes the page: its port, its open connections and event streams; its key opens nothing more.
    func stop() async {
        accepting.cancel()
        try? await channel.close()
    }

    private static func serve(_ connection: Connection, gate: WatchPageGate, source: Source, logger: Logger) async {
        let channel = connection.channel
        try? await connection.executeThenClose { inbound, outbound in
            var head: HTTPRequestHead?
            var body: [UInt8] = []
            for try await part in inbound {
                switch part {
                case .head(let received): head = received
                case .body(let bytes): body += bytes.readableBytesView
                case .end:
                    guard let head else { return }
                    let decision = gate.decide(WatchPageGate.Request(
                        method: head.method.rawValue, target: head.uri, headers: head.headers.map { ($0.name, $0.value) }, body: body))
                    let writer = WatchPageWriter(outbound: outbound)
                    switch decision {
                    case .refuse(let reason):
                        logger.debug("watch page: refused a request: \(reason)")
                        try await writer.answer(.forbidden)
                    case .enter: try await writer.answer(.seeOther, headers: [("Location", "/"), ("Set-Cookie", gate.setCookie)])
                    case .notFound: try await writer.answer(.notFound)
                    case .serve(.page): try await writer.page()
                    case .serve(.messages(let contact)):
                        try await writer.json { MessagesAnswer(contact: contact, messages: try await source.messages(contact)) }
                    case .serve(.read(let contact)):
                        try await writer.json { try await source.read(contact); return EmptyResult() }
                    case .serve(.events):
                        channel.pipeline.fireUserInboundEventTriggered(WatchPageGuard.Streaming())
                        try await stream(writer, source: source, watched: gate.watched, closed: channel.closeFuture)
                    }
                    return
                }
            }
        }
    }

    /// `GET /messages`'s answer.
    struct MessagesAnswer: Encodable {
        var contact: String
        var messages: [MessageEntry]
    }

    /// The event stream: the `watch` result at once and after each event that concerns a watched
    /// contact (when it differs from the last one sent), a comment every `keepaliveSeconds`, until
    /// the browser goes away or the page closes.
    private static func stream(_ writer: WatchPageWriter, source: Source, watched: [String], closed: EventLoopFuture<Void>) async throws {
        enum Signal { case changed, keepalive }
        let events = await source.events()  // subscribed before the first state is read: nothing falls between
        let (signals, signal) = AsyncStream.makeStream(of: Signal.self, bufferingPolicy: .bufferingNewest(8))
        try await writer.startStream()
        signal.yield(.changed)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await event in events where concerns(event, account: source.account, watched: watched) { signal.yield(.changed) }
            }
            group.addTask {
                while true {
                    try await Task.sleep(for: .seconds(keepaliveSeconds))
                    signal.yield(.keepalive)
                }
            }
            group.addTask { try await closed.get() }
            group.addTask {
                var last: WatchResult?
                for await kind in signals {
                    let state = try await source.watch()
                    if state != last {
                        last = state
                        try await writer.event(state)
                    } else if kind == .keepalive {
                        try await writer.keepalive()
                    }
                }
            }
            defer { group.cancelAll() }
            _ = try await group.next()  // the first to end (the browser left, a write failed) ends the stream
        }
    }

    /// Whether `event` may change what the page shows.
    static func concerns(_ event: AgentEvent, account: String, watched: [String]) -> Bool {
        guard event.account == nil || event.account == account else { return false }
        switch event.event {
        case .contacts: return true
        case .message, .viewed, .presence, .contactKeys: return event.contact.map(watched.contains) ?? true
        case .note, .path, .transfer, .pending, .roster, .policy, .links: return false
        }
    }
}
