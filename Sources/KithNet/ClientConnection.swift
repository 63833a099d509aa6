import KithCore
import KithCrypto
import KithWire
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// An initiator's secure channel as async calls: `request` sends a message and returns the
/// answer with the same request id; `unsolicited` yields what the peer sends on its own
/// (`DeviceList`, `RelayDeliver`). Used by the agent for its server session and by tests.
public final class ClientConnection: Sendable {
    public struct Failure: Error, CustomStringConvertible, Equatable {
        public let description: String
        /// The TCP connection opened but the peer closed it before the handshake completed: with
        /// a pinned key (IK), what a server whose key is not the one pinned does.
        public var duringHandshake = false
        public static let closed = Failure(description: "the connection closed")
        public static let timedOut = Failure(description: "no answer in time")
    }

    /// Requests and sends are written to the channel itself (it hands them to its event loop in
    /// the order they were written): no task between the caller and the loop.
    private let channel: Channel
    /// The async channel's writer, unused but held: it lives as long as the connection.
    private let outbound: NIOAsyncChannelOutboundWriter<Envelope>
    private let state: NIOLockedValueBox<State>
    /// Messages the peer sent with requestID 0; finishes when the connection closes.
    public let unsolicited: AsyncStream<Envelope>
    /// Why the channel closed itself, if it did (a decode or authentication failure).
    public var closeReason: WireError? { state.withLockedValue { $0.closeReason } }

    private struct State {
        var nextRequestID: UInt32 = 1
        var pending: [UInt32: CheckedContinuation<Envelope, any Error>] = [:]
        var closed = false
        var closeReason: WireError?
    }

    private init(channel: Channel, outbound: NIOAsyncChannelOutboundWriter<Envelope>, state: NIOLockedValueBox<State>,
                 unsolicited: AsyncStream<Envelope>) {
        self.channel = channel
        self.outbound = outbound
        self.state = state
        self.unsolicited = unsolicited
    }

    /// Connects, runs the handshake with `remoteStatic` pinned, and returns once it completed.
    /// `localHost`: the address to connect from (a test that plays two source addresses on loopback).
    /// `observe` sees every envelope on the event loop as it is decrypted, before any task does
    /// (a load client's arrival times).
    public static func connect(host: String, port: Int, channel kind: Preamble.Channel = .agentToServer,
                               remoteStatic: PublicKey, localStatic: KeyPair, group: any EventLoopGroup,
                               timeout: TimeAmount = .seconds(10), from localHost: String? = nil,
                               observe: (@Sendable (Envelope) -> Void)? = nil) async throws -> ClientConnection {
        let state = NIOLockedValueBox(State())
        var bootstrap = ClientBootstrap(group: group)
            .connectTimeout(timeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
        if let localHost { bootstrap = bootstrap.bind(to: try SocketAddress(ipAddress: localHost, port: 0)) }
        let asyncChannel = try await bootstrap
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let machine = SecureChannel(role: .initiator(channel: kind, remoteStatic: remoteStatic),
                                                localStatic: localStatic)
                    try channel.pipeline.syncOperations.addHandler(SecureChannelHandler(machine) { reason in
                        state.withLockedValue { $0.closeReason = reason }
                    })
                    if let observe { try channel.pipeline.syncOperations.addHandler(EnvelopeObserver(observe)) }
                    return try NIOAsyncChannel<SecureChannelEvent, Envelope>(wrappingChannelSynchronously: channel)
                }
            }
        let (stream, streamContinuation) = AsyncStream.makeStream(of: Envelope.self, bufferingPolicy: .unbounded)
        let writer: NIOAsyncChannelOutboundWriter<Envelope> = try await withCheckedThrowingContinuation { ready in
            let readiness = NIOLockedValueBox<CheckedContinuation<NIOAsyncChannelOutboundWriter<Envelope>, any Error>?>(ready)
            Task {
                do {
                    try await asyncChannel.executeThenClose { inbound, outbound in
                        for try await event in inbound {
                            switch event {
                            case .established:
                                readiness.withLockedValue { $0.take() }?.resume(returning: outbound)
                            case .envelope(let envelope):
                                let waiter = envelope.requestID == 0 ? nil
                                    : state.withLockedValue { $0.pending.removeValue(forKey: envelope.requestID) }
                                if let waiter { waiter.resume(returning: envelope) } else { streamContinuation.yield(envelope) }
                            }
                        }
                    }
                } catch {}
                let waiters = state.withLockedValue { state -> [CheckedContinuation<Envelope, any Error>] in
                    state.closed = true
                    defer { state.pending = [:] }
                    return Array(state.pending.values)
                }
                for waiter in waiters { waiter.resume(throwing: Failure.closed) }
                streamContinuation.finish()
                let reason = state.withLockedValue { $0.closeReason }
                readiness.withLockedValue { $0.take() }?.resume(throwing: Failure(
                    description: "the handshake did not complete" + (reason.map { ": \($0)" } ?? ""), duringHandshake: true))
            }
            asyncChannel.channel.eventLoop.scheduleTask(in: timeout) {
                if let waiting = readiness.withLockedValue({ $0.take() }) {
                    waiting.resume(throwing: Failure.timedOut)
                    asyncChannel.channel.close(promise: nil)
                }
            }
        }
        return ClientConnection(channel: asyncChannel.channel, outbound: writer, state: state, unsolicited: stream)
    }

    /// Sends `message` as a request and waits for the answer carrying its request id.
    public func request(_ message: Message, timeout: TimeAmount = .seconds(15)) async throws -> Envelope {
        let eventLoop = channel.eventLoop
        return try await withCheckedThrowingContinuation { continuation in
            let id: UInt32? = state.withLockedValue { state in
                guard !state.closed else { return nil }
                let id = state.nextRequestID
                state.nextRequestID = id == UInt32.max ? 1 : id + 1
                state.pending[id] = continuation
                return id
            }
            guard let id else { return continuation.resume(throwing: Failure.closed) }
            // Left to fire even when the answer came: cancelling a scheduled task searches the event
            // loop's whole timer queue (NIO removes it by a linear scan), and a busy client's loop
            // holds thousands; a timer that fires finds nothing to do.
            eventLoop.scheduleTask(in: timeout) { [state] in
                state.withLockedValue { $0.pending.removeValue(forKey: id) }?.resume(throwing: Failure.timedOut)
            }
            channel.writeAndFlush(Envelope(requestID: id, message)).whenFailure { [state] error in
                state.withLockedValue { $0.pending.removeValue(forKey: id) }?.resume(throwing: error)
            }
        }
    }

    /// Sends `message` without waiting for anything (requestID 0).
    public func send(_ message: Message) async throws {
        try await channel.writeAndFlush(Envelope(message)).get()
    }

    public var isClosed: Bool { state.withLockedValue { $0.closed } }

    public func close() async {
        try? await channel.close()
    }
}

/// Shows each decrypted envelope to a closure on the event loop and passes it on.
private final class EnvelopeObserver: ChannelInboundHandler {
    typealias InboundIn = SecureChannelEvent
    typealias InboundOut = SecureChannelEvent
    private let observe: @Sendable (Envelope) -> Void

    init(_ observe: @escaping @Sendable (Envelope) -> Void) { self.observe = observe }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .envelope(let envelope) = unwrapInboundIn(data) { observe(envelope) }
        context.fireChannelRead(data)
    }
}
