import NIOCore

/// Closes a channel when `IdleStateHandler` reports that nothing was read for the keepalive
/// timeout: the peer vanished without saying goodbye (spec §Sessions).
final class IdleCloseHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    private let onIdle: () -> Void

    init(onIdle: @escaping () -> Void) { self.onIdle = onIdle }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            onIdle()
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}
