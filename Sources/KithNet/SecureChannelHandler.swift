import KithCore
import KithCrypto
import KithWire
import NIOCore

/// What the secure channel hands up the pipeline.
public enum SecureChannelEvent: Sendable {
    /// The peer's verified key, and the AEAD its transport messages use (`TransportCipherChoice`).
    case established(remoteStatic: KithCrypto.PublicKey, cipher: NoiseCipher)
    case envelope(Envelope)
}

/// The I/O shell around `SecureChannel`: feeds it the socket's bytes and carries out what it
/// returns. It makes no decisions of its own, so everything it does is tested without sockets
/// in SecureChannelTests. Write `Envelope`s into the pipeline to send them.
public final class SecureChannelHandler: ChannelDuplexHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = SecureChannelEvent
    public typealias OutboundIn = Envelope
    public typealias OutboundOut = ByteBuffer

    private var machine: SecureChannel
    private let onClose: (WireError) -> Void

    /// `onClose` hears why the channel closed itself (for the log); socket errors close it too.
    public init(_ machine: SecureChannel, onClose: @escaping (WireError) -> Void = { _ in }) {
        self.machine = machine
        self.onClose = onClose
    }

    public func channelActive(context: ChannelHandlerContext) {
        perform(machine.start(), context: context)
        context.fireChannelActive()
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        let actions = buffer.withUnsafeReadableBytes { machine.receive($0) }
        perform(actions, context: context)
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        do {
            perform(try machine.send(unwrapOutboundIn(data)), context: context, promise: promise)
        } catch {
            promise?.fail(error)
        }
    }

    /// Carries out actions in three passes: first every write, then every event up the pipeline,
    /// then a close. The writes are already encrypted under consecutive nonces, so they must reach
    /// the socket before anything a handler writes in answer to an event (which the machine
    /// encrypts under the next nonce); a close waits until both are done.
    private func perform(_ actions: [SecureChannel.Action], context: ChannelHandlerContext,
                         promise: EventLoopPromise<Void>? = nil) {
        var promise = promise
        var closeReason: WireError?
        for case .write(let bytes) in actions {
            context.write(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)), promise: promise)
            promise = nil
        }
        context.flush()
        for action in actions {
            switch action {
            case .write: break
            case .established(let key, _):
                context.fireChannelRead(wrapInboundOut(.established(remoteStatic: key, cipher: machine.transportCipher)))
            case .deliver(let envelope): context.fireChannelRead(wrapInboundOut(.envelope(envelope)))
            case .close(let error): closeReason = error
            }
        }
        if let closeReason {
            onClose(closeReason)
            promise?.fail(closeReason)
            context.close(promise: nil)
        } else {
            promise?.succeed(())
        }
    }
}
