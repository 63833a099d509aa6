import KithCore
import KithCrypto
import KithWire
import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

/// A device-to-device stream: the secure channel (preamble kind 2, Noise_IK) over TCP, reached
/// directly or through the server's transit (spec §File transfer, §Transit). The first inbound
/// event is `.established` with the peer's verified key; the caller decides if it is welcome.
public typealias DeviceStreamChannel = NIOAsyncChannel<SecureChannelEvent, Envelope>

public enum DeviceStream {
    /// Dials `host:port`. With `ticket`, that is the server: the transit preamble and the ticket
    /// go first, then the device stream runs inside as `role` says. `ciphers`: what the handshake
    /// offers (`TransportCipherChoice`); ChaCha20-Poly1305 alone offers nothing, as an older device.
    public static func dial(host: String, port: Int, ticket: [UInt8]? = nil, role: SecureChannel.Role,
                            keys: KeyPair, ciphers: [NoiseCipher] = [.chaChaPoly], group: any EventLoopGroup,
                            timeout: TimeAmount = .seconds(5)) async throws -> DeviceStreamChannel {
        try await ClientBootstrap(group: group)
            .connectTimeout(timeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.writeBufferWaterMark, value: writeWatermark)
            .channelOption(.socketOption(.so_keepalive), value: 1)
            .channelOption(keepIdle, value: 10).channelOption(keepInterval, value: 5).channelOption(keepCount, value: 3)
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let ticket {
                        try channel.pipeline.syncOperations.addHandler(
                            TransitHeader(bytes: Preamble(channel: .transit).bytes + ticket))
                    }
                    try channel.pipeline.syncOperations.addHandler(SecureChannelHandler(SecureChannel(role: role, localStatic: keys, ciphers: ciphers)))
                    return try DeviceStreamChannel(wrappingChannelSynchronously: channel, configuration: streamConfiguration)
                }
            }
    }

    /// Listens for direct device streams on `host:port` (TCP; the same number as the UDP socket),
    /// choosing among `ciphers` what an initiator offers.
    public static func listen(host: String, port: Int, keys: KeyPair, ciphers: [NoiseCipher] = [.chaChaPoly],
                              group: any EventLoopGroup) async throws -> NIOAsyncChannel<DeviceStreamChannel, Never> {
        try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.writeBufferWaterMark, value: writeWatermark)
            .childChannelOption(.socketOption(.so_keepalive), value: 1)
            .childChannelOption(keepIdle, value: 10).childChannelOption(keepInterval, value: 5).childChannelOption(keepCount, value: 3)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let machine = SecureChannel(role: .responder(accepting: [.deviceToDevice]), localStatic: keys, ciphers: ciphers)
                    try channel.pipeline.syncOperations.addHandler(SecureChannelHandler(machine))
                    return try DeviceStreamChannel(wrappingChannelSynchronously: channel, configuration: streamConfiguration)
                }
            }
    }

    /// TCP keepalive after 10 s of silence, every 5 s, 3 misses: a stream may rest for minutes (a
    /// user is asked, a disk is full), and a peer that vanished meanwhile (sleep, a NAT that
    /// forgot the mapping) must show as a closed stream within half a minute, not never.
    public static let keepIdle = ChannelOptions.Types.SocketOption(
        level: NIOBSDSocket.OptionLevel(rawValue: CInt(IPPROTO_TCP)), name: NIOBSDSocket.Option(rawValue: CInt(TCP_KEEPIDLE)))
    public static let keepInterval = ChannelOptions.Types.SocketOption(
        level: NIOBSDSocket.OptionLevel(rawValue: CInt(IPPROTO_TCP)), name: NIOBSDSocket.Option(rawValue: CInt(TCP_KEEPINTVL)))
    public static let keepCount = ChannelOptions.Types.SocketOption(
        level: NIOBSDSocket.OptionLevel(rawValue: CInt(IPPROTO_TCP)), name: NIOBSDSocket.Option(rawValue: CInt(TCP_KEEPCNT)))

    /// Room for a few chunks' worth of envelopes in each direction.
    static let streamConfiguration = DeviceStreamChannel.Configuration(
        backPressureStrategy: .init(lowWatermark: 16, highWatermark: 64))
    /// Bytes queued for the socket before a writer waits.
    static let writeWatermark = ChannelOptions.Types.WriteBufferWaterMark(low: 1 << 20, high: 4 << 20)
}

/// Writes the transit preamble and ticket when the connection comes up, before anything the
/// secure channel writes (it sits nearer the socket, and the channel-active event reaches it first).
final class TransitHeader: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private let bytes: [UInt8]

    init(bytes: [UInt8]) { self.bytes = bytes }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)), promise: nil)
        context.fireChannelActive()
    }
}
