import KithCore
import KithCrypto
import KithNet
import KithWire
import NIOCore
import NIOEmbedded
import Testing

/// The NIO shell carries out the machine's actions in an order that keeps nonces in sequence,
/// even when a handler answers synchronously (found by review: a reply written while an event
/// was being delivered overtook an error reply that was already encrypted).
@Suite struct SecureChannelHandlerTests {
    /// Answers every Ping at once, from inside channelRead.
    final class EagerResponder: ChannelInboundHandler {
        typealias InboundIn = SecureChannelEvent
        typealias OutboundOut = Envelope
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            if case .envelope(let envelope) = unwrapInboundIn(data), case .ping(let ping) = envelope.message {
                context.writeAndFlush(wrapOutboundOut(Envelope(requestID: envelope.requestID, .pong(.init(nonce: ping.nonce)))),
                                      promise: nil)
            }
        }
    }

    @Test func repliesLeaveInNonceOrder() throws {
        let serverKey = KeyPair.generate(), clientKey = KeyPair.generate()
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandlers(
            SecureChannelHandler(SecureChannel(role: .responder(accepting: [.agentToServer]), localStatic: serverKey)),
            EagerResponder())
        try channel.connect(to: .init(ipAddress: "127.0.0.1", port: 1)).wait()
        func outbound() throws -> [UInt8] {
            var bytes: [UInt8] = []
            while let buffer = try channel.readOutbound(as: ByteBuffer.self) { bytes += buffer.readableBytesView }
            return bytes
        }

        // A hand-driven initiator, so it can send an envelope type no SecureChannel would.
        let prologue = Preamble(channel: .agentToServer).bytes
        var initiator = try NoiseHandshake(.init(protocolName: SecureChannel.protocolName(for: .agentToServer),
                                                 role: .initiator, prologue: prologue, localStatic: clientKey,
                                                 remoteStatic: serverKey.publicKey))
        try channel.writeInbound(channel.allocator.buffer(bytes: prologue + (try FrameDecoder.encode(try initiator.writeMessage()))))
        _ = try initiator.readMessage(Array(try outbound().dropFirst(prologue.count + 2)))
        var transport = try #require(initiator.transport)

        // One read with a Ping and then a message of an unknown type. The machine encrypts the
        // error reply for the second at once; the responder answers the Ping while the event is
        // delivered. Decrypting in arrival order works only if they left in nonce order.
        let ping = try Envelope(requestID: 1, .ping(.init(nonce: 7))).encode()
        let future: [UInt8] = [0, 0x77, 0x77, 0, 0, 0, 2]
        let frames = try FrameDecoder.encode(try transport.send!.encrypt(plaintext: ping))
            + (try FrameDecoder.encode(try transport.send!.encrypt(plaintext: future)))
        try channel.writeInbound(channel.allocator.buffer(bytes: frames))

        var decoder = FrameDecoder()
        decoder.append(try outbound())
        var answers: [Envelope] = []
        while let frame = try decoder.nextFrame() {
            answers.append(try Envelope.decode(try transport.receive!.decrypt(ciphertext: frame)[...]))
        }
        #expect(answers.map(\.requestID) == [2, 1])
        #expect(answers.last == Envelope(requestID: 1, .pong(.init(nonce: 7))))
    }
}
