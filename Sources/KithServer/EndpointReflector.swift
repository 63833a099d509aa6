import KithNet
import KithWire
import Logging
import NIOCore

/// The server's UDP port: answers an endpoint probe with the address it came from, so an agent
/// behind a NAT learns its public mapping for the socket it also talks to its siblings from
/// (spec §Endpoints). Anything else is dropped without an answer, and so is a probe shorter than
/// its reply would be: a forged source address gets no more bytes sent to it than were sent here.
final class EndpointReflector: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard case .endpointProbe(let nonce)? = try? Datagram.decode(Array(envelope.data.readableBytesView)[...]),
              let observed = EndpointAddress(envelope.remoteAddress),
              let reply = try? Datagram.endpointReply(nonce: nonce, observed: observed).encode(),
              reply.count <= envelope.data.readableBytes
        else { return }
        let out = AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: context.channel.allocator.buffer(bytes: reply))
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {}  // ICMP errors and the like: carry on
}
