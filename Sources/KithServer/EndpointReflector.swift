import KithNet
import KithWire
import Logging
import NIOCore

/// The server's UDP port: answers an endpoint probe with the address it came from, so an agent
/// behind a NAT learns its public mapping for the socket it also talks to its siblings from
/// (spec §Endpoints). Anything else is dropped without an answer. A reply is never larger than
/// the probe's answer space allows (27 or 39 bytes for a 20-byte probe, no amplification to speak of).
final class EndpointReflector: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard case .endpointProbe(let nonce)? = try? Datagram.decode(Array(envelope.data.readableBytesView)[...]),
              let observed = EndpointAddress(envelope.remoteAddress),
              let reply = try? Datagram.endpointReply(nonce: nonce, observed: observed).encode()
        else { return }
        let out = AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: context.channel.allocator.buffer(bytes: reply))
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {}  // ICMP errors and the like: carry on
}
