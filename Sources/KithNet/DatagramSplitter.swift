import NIOCore

/// Datagrams that arrived together from one address: one read, which the kernel may have
/// coalesced from several (GRO).
public struct ReceivedDatagrams: Sendable {
    public var address: SocketAddress
    public var datagrams: [[UInt8]]
}

/// On the socket's event loop, turns each read into the datagrams it holds, copied out, so the
/// read buffer (64 KiB when the kernel coalesces) goes back to NIO at once instead of waiting in
/// the queue to the agent.
public final class DatagramSplitter: ChannelInboundHandler, Sendable {
    public typealias InboundIn = AddressedEnvelope<ByteBuffer>
    public typealias InboundOut = ReceivedDatagrams

    public init() {}

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let datagrams = SegmentedDatagrams.split(envelope.data, segmentSize: envelope.metadata?.segmentSize)
        context.fireChannelRead(wrapInboundOut(ReceivedDatagrams(address: envelope.remoteAddress, datagrams: datagrams)))
    }
}
