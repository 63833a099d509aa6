import KithXMPP
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// One signed-in XMPP account: `XMPPSession`'s decisions carried out on a SwiftNIO channel. It
/// returns from `connect` once the server answered the roster request, then yields what arrives
/// in `incoming` until the stream ends; `ended` says why. Everything the server sends goes
/// through `XMLStreamParser`'s bounds first, so a hostile server costs one closed connection.
public final class XMPPConnection: Sendable {
    public struct Login: Sendable {
        public let connection: XMPPConnection
        public let boundJID: JID
        public let roster: XMPPRosterAnswer
    }

    /// Bytes each way and request/answer turns, for the login's cost (the note on re-logins).
    public struct Traffic: Sendable, Equatable {
        public var bytesIn = 0
        public var bytesOut = 0
        /// Times the client waited for the server: a write followed by the server's next stanza.
        public var roundTrips = 0
    }

    private let channel: Channel
    private let state: NIOLockedValueBox<Shared>
    public let incoming: AsyncStream<XMPPIncoming>

    struct Shared {
        var session: XMPPSession
        var traffic = Traffic()
        var ended: XMPPError?
    }

    private init(channel: Channel, state: NIOLockedValueBox<Shared>, incoming: AsyncStream<XMPPIncoming>) {
        self.channel = channel
        self.state = state
        self.incoming = incoming
    }

    public var traffic: Traffic { state.withLockedValue { $0.traffic } }
    /// Why the session ended, once it has.
    public var ended: XMPPError? { state.withLockedValue { $0.ended } }

    /// Connects, signs in and asks for the roster since `settings.rosterVersion`. Throws the
    /// `XMPPError` that ended the attempt (`.timedOut` when the login took longer than `timeout`).
    /// Plaintext and PLAIN are allowed only when the server's address is on loopback.
    public static func connect(host: String, port: Int, account: JID, password: String, resource: String = "kith",
                               rosterVersion: String?, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                               timeout: TimeAmount = .seconds(15)) async throws -> Login {
        let (stream, continuation) = AsyncStream<XMPPIncoming>.makeStream()
        let login = group.next().makePromise(of: (JID, XMPPRosterAnswer).self)
        let state = NIOLockedValueBox<Shared>(Shared(session: XMPPSession(.init(
            account: account, password: password, resource: resource, rosterVersion: rosterVersion,
            canStartTLS: false, isLoopback: false))))
        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(timeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        XMPPChannelHandler(state: state, login: login, incoming: continuation))
                }
            }
            .connect(host: host, port: port).get()
        let deadline = channel.eventLoop.scheduleTask(in: timeout) {
            channel.pipeline.fireUserInboundEventTriggered(XMPPChannelHandler.LoginDeadline())
        }
        defer { deadline.cancel() }
        let (jid, roster) = try await login.futureResult.get()
        return Login(connection: XMPPConnection(channel: channel, state: state, incoming: stream), boundJID: jid, roster: roster)
    }

    /// Writes a stanza built by `XMPPStanza` (or an `iq` with `makeID()`'s id).
    public func send(_ stanza: String) {
        let bytes = stanza.utf8.count
        state.withLockedValue { $0.traffic.bytesOut += bytes }
        channel.writeAndFlush(channel.allocator.buffer(string: stanza), promise: nil)
    }

    public func makeID() -> String { state.withLockedValue { $0.session.makeID() } }

    /// Ends the stream politely and closes.
    public func close() async {
        send(XMPPStanza.streamEnd)
        try? await channel.close()
    }
}

/// The channel's end of an `XMPPConnection`: bytes to the parser, events to the session, its
/// actions to the socket. Runs on the channel's event loop; the lock guards what the
/// connection's callers read.
final class XMPPChannelHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let state: NIOLockedValueBox<XMPPConnection.Shared>
    /// Until the login's answer: completed once, then nil.
    private var login: EventLoopPromise<(JID, XMPPRosterAnswer)>?
    private let incoming: AsyncStream<XMPPIncoming>.Continuation
    private var parser = XMLStreamParser()
    private var waiting = false

    init(state: NIOLockedValueBox<XMPPConnection.Shared>, login: EventLoopPromise<(JID, XMPPRosterAnswer)>,
         incoming: AsyncStream<XMPPIncoming>.Continuation) {
        self.state = state
        self.login = login
        self.incoming = incoming
    }

    func channelActive(context: ChannelHandlerContext) {
        let loopback = context.remoteAddress.map(Self.isLoopback) ?? false
        let actions = state.withLockedValue { shared in
            var settings = shared.session.settings
            settings.isLoopback = loopback
            shared.session = XMPPSession(settings)
            return shared.session.connected()
        }
        perform(actions, context: context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        state.withLockedValue {
            $0.traffic.bytesIn += buffer.readableBytes
            if waiting { $0.traffic.roundTrips += 1 }
        }
        waiting = false
        let (events, failure) = buffer.withUnsafeReadableBytes { parser.read($0) }
        for event in events {
            perform(state.withLockedValue { $0.session.receive(event) }, context: context)
        }
        if let failure { perform(state.withLockedValue { $0.session.parseFailed(failure) }, context: context) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        perform(state.withLockedValue { $0.session.closed() }, context: context)
        incoming.finish()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// The login took longer than its timeout.
    struct LoginDeadline {}

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is LoginDeadline, login != nil { perform([.fail(.timedOut)], context: context) }
    }

    private func perform(_ actions: [XMPPAction], context: ChannelHandlerContext) {
        for action in actions {
            switch action {
            case .send(let text):
                state.withLockedValue { $0.traffic.bytesOut += text.utf8.count }
                waiting = true
                context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: text)), promise: nil)
            case .restartParser:
                // The server sends nothing of the new stream before our new header, which follows.
                parser = XMLStreamParser()
            case .startTLS:
                // This build does not negotiate TLS (canStartTLS is false); the session never asks.
                perform([.fail(.tlsUnavailable)], context: context)
            case .loggedIn:
                break
            case .roster(let answer):
                if let bound = state.withLockedValue({ $0.session.boundJID }) { login?.succeed((bound, answer)) }
                login = nil
            case .incoming(let item):
                incoming.yield(item)
            case .fail(let error):
                state.withLockedValue { if $0.ended == nil { $0.ended = error } }
                login?.fail(error)
                login = nil
                context.close(promise: nil)
            }
        }
    }

    private static func isLoopback(_ address: SocketAddress) -> Bool {
        switch address {
        case .v4(let v4): return (UInt32(bigEndian: v4.address.sin_addr.s_addr) >> 24) == 127
        case .v6: return address.ipAddress == "::1"
        case .unixDomainSocket: return true
        }
    }
}

extension XMPPChannelHandler {
    typealias OutboundOut = ByteBuffer
}
