import Foundation
import KithXMPP
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS

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
    /// Plaintext and PLAIN are allowed only when the server's address is on loopback. STARTTLS is
    /// used whenever the server offers it; its certificate must be trusted by the system for the
    /// account's domain (RFC 6120 §13.7.2), or, when `certificate` is given, be exactly that one.
    public static func connect(host: String, port: Int, account: JID, password: String, resource: String = "kith",
                               rosterVersion: String?, certificate: CertificateFingerprint? = nil,
                               group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                               timeout: TimeAmount = .seconds(15)) async throws -> Login {
        let (stream, continuation) = AsyncStream<XMPPIncoming>.makeStream()
        let login = group.next().makePromise(of: (JID, XMPPRosterAnswer).self)
        let state = NIOLockedValueBox<Shared>(Shared(session: XMPPSession(.init(
            account: account, password: password, resource: resource, rosterVersion: rosterVersion,
            canStartTLS: true, isLoopback: false))))
        let tls = TLSPlan(serverName: account.domain, pinned: certificate)
        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(timeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        XMPPChannelHandler(state: state, tls: tls, login: login, incoming: continuation))
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

    /// The fingerprint of the certificate the server at `host:port` presents for `domain`, for a
    /// user to compare and pin when the system does not trust it. Learned by starting a login
    /// pinned to a certificate no server has; nothing is sent after the TLS handshake.
    public static func presentedCertificate(host: String, port: Int, domain: String,
                                            group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                                            timeout: TimeAmount = .seconds(15)) async throws -> CertificateFingerprint {
        let nobody = CertificateFingerprint(String(repeating: "00", count: 32))!
        do {
            let login = try await connect(host: host, port: port, account: JID(local: "probe", domain: domain), password: "",
                                          rosterVersion: nil, certificate: nobody, group: group, timeout: timeout)
            await login.connection.close()
            throw XMPPError.certificateMismatch(presented: nobody)
        } catch XMPPError.certificateMismatch(let presented) {
            return presented
        }
    }

    /// Writes a stanza built by `XMPPStanza` (or an `iq` with `makeID()`'s id).
    public func send(_ stanza: String) {
        let bytes = stanza.utf8.count
        state.withLockedValue { $0.traffic.bytesOut += bytes }
        channel.writeAndFlush(channel.allocator.buffer(string: stanza), promise: nil)
    }

    public func makeID() -> String { state.withLockedValue { $0.session.makeID() } }

    /// Asks for one page of the account's archive; returns the query's id (its `.archivePage`'s).
    public func queryArchive(after: String?, start: Date?, max: Int = 100) -> String {
        let query = state.withLockedValue { $0.session.archiveQuery(after: after, start: start, max: max) }
        send(query.stanza)
        return query.id
    }

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
    private let tls: TLSPlan
    /// Until the login's answer: completed once, then nil.
    private var login: EventLoopPromise<(JID, XMPPRosterAnswer)>?
    private let incoming: AsyncStream<XMPPIncoming>.Continuation
    private var parser = XMLStreamParser()
    private var waiting = false

    init(state: NIOLockedValueBox<XMPPConnection.Shared>, tls: TLSPlan, login: EventLoopPromise<(JID, XMPPRosterAnswer)>,
         incoming: AsyncStream<XMPPIncoming>.Continuation) {
        self.state = state
        self.tls = tls
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
        if let mismatch = tls.mismatch.withLockedValue({ $0 }) {
            perform([.fail(.certificateMismatch(presented: mismatch))], context: context)
        } else if error is NIOSSLError || error is BoringSSLError {
            perform([.fail(.tlsFailed(String(describing: error)))], context: context)
        } else {
            context.close(promise: nil)
        }
    }

    /// The login took longer than its timeout.
    struct LoginDeadline {}

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is LoginDeadline, login != nil { perform([.fail(.timedOut)], context: context) }
        if case TLSUserEvent.handshakeCompleted = event {
            perform(state.withLockedValue { $0.session.tlsEstablished() }, context: context)
        }
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
                // The handshake starts as the handler joins the pipeline; `handshakeCompleted` goes on.
                do {
                    try context.pipeline.syncOperations.addHandler(try tls.makeHandler(), position: .first)
                } catch {
                    perform([.fail(.tlsFailed(String(describing: error)))], context: context)
                }
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

/// How a connection checks the server's certificate once the session asks for TLS: the system's
/// trust roots and the account's domain, or exactly the pinned certificate (any chain, any name:
/// the user compared the fingerprint). A pin that does not match is remembered, so the error can
/// name the certificate presented.
struct TLSPlan: Sendable {
    let serverName: String
    let pinned: CertificateFingerprint?
    let mismatch = NIOLockedValueBox<CertificateFingerprint?>(nil)

    func makeHandler() throws -> NIOSSLClientHandler {
        let context = try NIOSSLContext(configuration: .makeClientConfiguration())
        guard let pinned else { return try NIOSSLClientHandler(context: context, serverHostname: serverName) }
        let mismatch = self.mismatch
        return try NIOSSLClientHandler(context: context, serverHostname: serverName) { chain, promise in
            let presented = chain.first.flatMap { try? CertificateFingerprint(der: $0.toDERBytes()) }
            if presented == pinned {
                promise.succeed(.certificateVerified)
            } else {
                mismatch.withLockedValue { $0 = presented ?? CertificateFingerprint(der: []) }
                promise.succeed(.failed)
            }
        }
    }
}
