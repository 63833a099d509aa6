import KithWire
import NIOConcurrencyHelpers
import NIOCore

/// Pairs transit connections by ticket (spec §Transit). A ticket is issued to a logged-in device
/// for one other online device of its account; the first two connections that present it are
/// joined, byte for byte, and the ticket is gone. The server sees only ciphertext: the two
/// devices run their own handshake inside.
final class TransitBroker: Sendable {
    static let ticketLifetime: TimeAmount = .seconds(30)
    /// Bytes a waiting connection may send before its partner arrives (its first handshake).
    static let waitingBufferLimit = 65536

    private struct Ticket {
        var expires: NIODeadline
        var waiting: TransitRouter?
    }

    private let tickets = NIOLockedValueBox<[[UInt8]: Ticket]>([:])

    /// A fresh single-use ticket.
    func issue(now: NIODeadline = .now()) -> [UInt8] {
        let ticket = (0..<16).map { _ in UInt8.random(in: 0...255) }
        tickets.withLockedValue { tickets in
            tickets = tickets.filter { $0.value.expires > now }
            tickets[ticket] = Ticket(expires: now + Self.ticketLifetime)
        }
        return ticket
    }

    /// A connection presented `ticket`: its partner if one waits (the ticket is then used up),
    /// nil if this one now waits; throws for an unknown or expired ticket.
    func present(_ ticket: [UInt8], by router: TransitRouter, now: NIODeadline = .now()) throws -> TransitRouter? {
        try tickets.withLockedValue { tickets in
            guard var entry = tickets[ticket], entry.expires > now else {
                tickets[ticket] = nil
                throw TransitRouter.Refused.unknownTicket
            }
            if let partner = entry.waiting {
                tickets[ticket] = nil
                return partner
            }
            entry.waiting = router
            tickets[ticket] = entry
            return nil
        }
    }

    /// A waiting connection closed: its ticket can still be presented by both sides again.
    func withdraw(_ ticket: [UInt8], router: TransitRouter) {
        tickets.withLockedValue { tickets in
            if tickets[ticket]?.waiting === router { tickets[ticket]?.waiting = nil }
        }
    }
}

/// First handler after the idle timers on every server connection: a connection whose preamble
/// names channel 4 (transit) stays here and is joined to its partner; any other goes on to the
/// secure channel with its bytes untouched, and this handler leaves the pipeline.
final class TransitRouter: ChannelDuplexHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum Refused: Error { case unknownTicket }

    private enum State {
        /// Not a transit connection: everything passes (only until the removal takes effect).
        case passing
        case sniffing
        case waiting(ticket: [UInt8])
        case joined
    }

    private let broker: TransitBroker
    /// A valid ticket was presented: the connection has proved itself (it no longer counts as
    /// waiting for a login, spec §Sessions, Before login).
    private let admitted: @Sendable () -> Void
    private let log: @Sendable (String) -> Void
    private var state = State.sniffing
    private var buffered: ByteBuffer?
    private var context: ChannelHandlerContext?
    /// The partner's router; both live on the server's one event loop.
    private var partner: TransitRouter?

    init(broker: TransitBroker, admitted: @escaping @Sendable () -> Void = {}, log: @escaping @Sendable (String) -> Void) {
        self.broker = broker
        self.admitted = admitted
        self.log = log
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        switch state {
        case .passing:
            context.fireChannelRead(data)
        case .joined:
            partner?.forward(bytes)
        case .waiting:
            buffered.setOrWriteBuffer(&bytes)
            if (buffered?.readableBytes ?? 0) > TransitBroker.waitingBufferLimit {
                context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
            }
        case .sniffing:
            buffered.setOrWriteBuffer(&bytes)
            sniff(context: context)
        }
    }

    private func sniff(context: ChannelHandlerContext) {
        guard var buffer = buffered else { return }
        let head = buffer.getBytes(at: buffer.readerIndex, length: min(buffer.readableBytes, Preamble.length)) ?? []
        // Wait while what came could still be a transit preamble.
        if head.count < 7 && Preamble.magic.starts(with: head.prefix(4)) { return }
        let isTransit = head.count >= 7 && head.prefix(4).elementsEqual(Preamble.magic)
            && head[6] == Preamble.Channel.transit.rawValue
        guard isTransit else {
            // Not a transit connection: hand everything on and step out of the way.
            buffered = nil
            state = .passing
            context.fireChannelRead(wrapInboundOut(buffer))
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            return
        }
        guard buffer.readableBytes >= Preamble.length + 16 else { return }
        guard (try? Preamble.decode(buffer.readableBytesView.prefix(Preamble.length).map { $0 }[...])) != nil else {
            log("transit: bad preamble")
            return context.close(promise: nil)
        }
        buffer.moveReaderIndex(forwardBy: Preamble.length)
        let ticket = buffer.readBytes(length: 16) ?? []
        buffered = buffer.readableBytes > 0 ? buffer : nil
        do {
            let partner = try broker.present(ticket, by: self)
            admitted()
            if let partner {
                join(partner)
                partner.join(self)
            } else {
                state = .waiting(ticket: ticket)
            }
        } catch {
            log("transit: unknown or expired ticket")
            context.close(promise: nil)
        }
    }

    /// Joined to `partner`: what waited here goes over, and from now on every byte does.
    private func join(_ partner: TransitRouter) {
        self.partner = partner
        state = .joined
        // A joined stream may rest (a receiver asking its user, a paused transfer): the devices
        // keep it alive end to end, not the server's session timeout.
        if let pipeline = context?.pipeline, let idle = try? pipeline.syncOperations.handler(type: IdleCloseHandler.self) {
            pipeline.syncOperations.removeHandler(idle, promise: nil)
        }
        if let buffered {
            self.buffered = nil
            partner.forward(buffered)
        }
        context?.channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
    }

    /// Bytes from the partner: out on this connection; when it cannot take more, the partner stops reading.
    private func forward(_ bytes: ByteBuffer) {
        guard let context else { return }
        context.writeAndFlush(wrapOutboundOut(bytes), promise: nil)
        if !context.channel.isWritable {
            partner?.context?.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, let other = partner?.context {
            other.channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
            other.read()
        }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if case .waiting(let ticket) = state { broker.withdraw(ticket, router: self) }
        let other = partner
        partner = nil
        self.context = nil
        other?.partnerClosed()
        context.fireChannelInactive()
    }

    /// The partner went away: what was forwarded still goes out, then this side closes too.
    private func partnerClosed() {
        partner = nil
        guard let context else { return }
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0))).whenComplete { _ in
            context.close(promise: nil)
        }
    }
}
