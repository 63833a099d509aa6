import KithCore
import NIOConcurrencyHelpers
import NIOCore

/// First in each connection of the watch page, before the HTTP decoder: the page's connections
/// are counted per address and in all (`ConnectionAdmission`, as the server counts its own), a
/// connection may send at most `maxBytes` (a request is a few hundred bytes; nothing is read after
/// it), and one that has not been answered within the deadline is closed. An event stream, once
/// answered, has no deadline (`Streaming`); it still counts until it closes.
final class WatchPageGuard: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    /// A few connections: a browser opens up to six per host; the page needs three at most.
    static let limits = ConnectionAdmission.Limits(deadlineSeconds: 10, perAddress: 8, total: 16)
    /// Bytes one connection may send: the request line, headers and a form.
    static let maxBytes = 16 * 1024

    /// The user event that lifts the deadline of a connection answered with an event stream.
    struct Streaming {}

    private let admission: NIOLockedValueBox<ConnectionAdmission>
    // Touched only on the channel's event loop.
    private var address = "?"
    private var counted = false
    private var received = 0
    private var deadline: Scheduled<Void>?

    init(admission: NIOLockedValueBox<ConnectionAdmission>) {
        self.admission = admission
    }

    func channelActive(context: ChannelHandlerContext) {
        address = context.channel.remoteAddress?.ipAddress ?? "?"
        guard admission.withLockedValue({ $0.arrive(from: address) }) == .admit else {
            context.close(promise: nil)
            return
        }
        counted = true
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: .seconds(Self.limits.deadlineSeconds)) { channel.close(promise: nil) }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        received += unwrapInboundIn(data).readableBytes
        guard received <= Self.maxBytes else {
            context.close(promise: nil)
            return
        }
        context.fireChannelRead(data)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is Streaming else { return context.fireUserInboundEventTriggered(event) }
        deadline?.cancel()
        deadline = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        if counted { admission.withLockedValue { $0.leave(from: address) } }
        counted = false
        context.fireChannelInactive()
    }
}
