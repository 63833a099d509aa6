import Foundation
import KithAPI
import Logging
import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

/// The agent's local API socket: a Unix socket, mode 0600 in a 0700 directory, that accepts
/// only connections from this user (checked with SO_PEERCRED, as Tailscale's daemon does) and
/// answers each request line with one response line.
public enum LocalAPIServer {
    /// A request line may be at most this long (a note is at most 16 KiB).
    static let maxLine = 1 << 20

    public static func run(agent: Agent, paths: AgentPaths, logger: Logger,
                           group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                           ready: @Sendable () -> Void) async throws {
        let directory = paths.socket.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        chmod(directory.path, 0o700)
        unlink(paths.socket.path)  // a stale socket of a dead agent (the lock says none is alive)
        let server = try await ServerBootstrap(group: group)
            .bind(unixDomainSocketPath: paths.socket.path, cleanupExistingSocketFile: true) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineDecoder(maxLine: maxLine)))
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        chmod(paths.socket.path, 0o600)
        ready()
        try await withThrowingDiscardingTaskGroup { group in
            try await server.executeThenClose { inbound in
                for try await connection in inbound {
                    group.addTask { await serve(connection, agent: agent, logger: logger) }
                }
            }
        }
    }

    private static func serve(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>, agent: Agent, logger: Logger) async {
        guard await isSameUser(connection.channel) else {
            logger.warning("refused a local API connection from another user")
            try? await connection.channel.close()
            return
        }
        try? await connection.executeThenClose { inbound, outbound in
            var lines = inbound.makeAsyncIterator()
            var first = true
            while let line = try await lines.next() {
                // `events` is a stream, asked for as the first line only (a later one gets an error).
                if first, Self.isEventsRequest(line) {
                    try await streamEvents(agent: agent, outbound: outbound, until: &lines)
                    return
                }
                first = false
                try await outbound.write(ByteBuffer(bytes: await agent.handle(Array(line.readableBytesView))))
            }
        }
    }

    /// `{"method":"events"}`: answers ok, then writes one line per event until the client closes.
    private static func streamEvents(agent: Agent, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>,
                                     until inbound: inout NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator) async throws {
        let events = await agent.subscribe()
        try await outbound.write(ByteBuffer(bytes: APICodec.encode(AgentResponse(result: EmptyResult()))))
        let writer = Task {
            for await event in events {
                try await outbound.write(ByteBuffer(bytes: APICodec.encode(event)))
            }
        }
        defer { writer.cancel() }
        while try await inbound.next() != nil {}  // anything more is ignored; the end ends the stream
    }

    private static func isEventsRequest(_ line: ByteBuffer) -> Bool {
        (try? APICodec.method(of: Array(line.readableBytesView))) == .events
    }

    /// True when the peer process runs as this process's user.
    private static func isSameUser(_ channel: any Channel) async -> Bool {
        guard let provider = channel as? any SocketOptionProvider else { return false }
        let credentials: PeerCredentials? = try? await provider.unsafeGetSocketOption(
            level: .socket, name: NIOBSDSocket.Option(rawValue: soPeerCred)).get()
        return credentials?.uid == getuid()
    }

    /// Linux's `struct ucred`, which Swift's Glibc module does not export (it needs _GNU_SOURCE).
    struct PeerCredentials {
        var pid: Int32 = 0
        var uid: UInt32 = .max
        var gid: UInt32 = .max
    }

    /// SO_PEERCRED on Linux (asm-generic/socket.h).
    static let soPeerCred: Int32 = 17
}

/// Splits a byte stream into lines (without the newline); a line over `maxLine` bytes is an error.
struct LineDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer
    let maxLine: Int

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let newline = buffer.readableBytesView.firstIndex(of: 0x0a) else {
            if buffer.readableBytes > maxLine { throw LineTooLong() }
            return .needMoreData
        }
        let length = newline - buffer.readerIndex
        let line = buffer.readSlice(length: length)!
        buffer.moveReaderIndex(forwardBy: 1)
        context.fireChannelRead(wrapInboundOut(line))
        return .continue
    }

    struct LineTooLong: Error {}
}
