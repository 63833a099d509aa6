import KithNet
import KithStore
import KithWire
import NIOCore

/// Answers a logged-in session's pings, relayed payloads and acknowledgements on its channel's
/// event loop, where the envelope was decrypted, and hands every other event on to the
/// session's task (`ServerSession`); `SessionLane` decides which. A busy server's traffic is
/// mostly these three: handled here they cost no hop to the task pool and back, and no thread
/// of the task pool competes with the event loop for the core (which on a loaded machine
/// costs a scheduler's time slice, milliseconds, on the path of a relayed message).
///
/// A relayed payload is checked here (`ServerContext.relayCheck`, the task's checks), committed
/// by the group committer, and answered on this loop when its group is on disk. The checks read
/// the store here, or for a shared store off the loop with other sessions' (`BatchedRelayChecks`),
/// one payload after another, so a session's payloads reach the committer in the order they came.
final class SessionLoopHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = SecureChannelEvent
    typealias InboundOut = SecureChannelEvent
    typealias OutboundOut = Envelope

    private let server: ServerContext
    private let eventLoop: any EventLoop
    // Touched only on `eventLoop`.
    private var lane = SessionLane()
    private var context: ChannelHandlerContext?
    private var unflushed = false
    /// The checks of the session's relayed payloads so far: the next one's follows.
    private var checked: EventLoopFuture<Void>?

    init(server: ServerContext, eventLoop: any EventLoop) {
        self.server = server
        self.eventLoop = eventLoop
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    /// The task finished an envelope this handler passed on (from any thread); `device` is the
    /// session's device now.
    func taskFinished(device: DeviceRecord?) {
        eventLoop.execute { self.lane.finished(device: device) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .envelope(let envelope) = unwrapInboundIn(data) else {
            context.fireChannelRead(data)
            return
        }
        guard lane.route(envelope.message.type) == .loop, let device = lane.device else {
            context.fireChannelRead(data)
            return
        }
        switch envelope.message {
        case .ping(let ping):
            context.write(wrapOutboundOut(Envelope(requestID: envelope.requestID, .pong(.init(nonce: ping.nonce)))), promise: nil)
            unflushed = true
        case .relayAck(let ack):
            server.relays.acknowledged(id: Int64(clamping: ack.relayID), to: device.id)
        case .relaySend(let request):
            let server = server, requestID = envelope.requestID
            let previous = checked ?? eventLoop.makeSucceededVoidFuture()
            checked = previous.flatMap {
                if let batched = server.batchedRelayChecks {
                    batched.check(request, from: device, in: server, on: self.eventLoop)
                } else {
                    self.eventLoop.makeSucceededFuture(server.relayCheck(request, from: device, linkedInto: nil))
                }
            }.map { check in
                self.carryOut(check, of: data, requestID: requestID)
            }
        default:
            preconditionFailure("SessionLane routed \(envelope.message.type) to the loop, which does not handle it")
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if unflushed {
            unflushed = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    /// What the checks of a relayed payload decided (on the loop, in the order payloads came).
    private func carryOut(_ check: RelayCheck, of data: NIOAny, requestID: UInt32) {
        switch check {
        case .needsLinks:
            lane.handOn()
            context?.fireChannelRead(data)
        case .refused(let answer):
            self.answer(Envelope(requestID: requestID, answer))
        case .commit(let item):
            let server = server
            server.relays.commit(item) { result in
                let answer = server.relayAnswer(result, to: item.to)
                self.eventLoop.execute { self.answer(Envelope(requestID: requestID, answer)) }
            }
        }
    }

    /// Writes an answer that came back from elsewhere, unless the channel is gone.
    private func answer(_ envelope: Envelope) {
        context?.writeAndFlush(wrapOutboundOut(envelope), promise: nil)
    }
}
