import KithCore
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// The server's gate for connections that have not logged in: the counts of
/// `ConnectionAdmission`, shared by every connection, and one log line per cause per interval.
final class AdmissionGate: Sendable {
    let limits: ConnectionAdmission.Limits
    private let state: NIOLockedValueBox<(admission: ConnectionAdmission, log: ThrottledLog)>
    private let logger: Logger
    private let now: @Sendable () -> UInt64

    init(limits: ConnectionAdmission.Limits, logger: Logger, now: @escaping @Sendable () -> UInt64) {
        self.limits = limits
        state = NIOLockedValueBox((ConnectionAdmission(limits: limits), ThrottledLog()))
        self.logger = logger
        self.now = now
    }

    func arrive(from address: String) -> Bool {
        let (decision, line) = state.withLockedValue { state -> (ConnectionAdmission.Decision, String?) in
            let decision = state.admission.arrive(from: address)
            guard case .refuse(let cause) = decision else { return (decision, nil) }
            return (decision, state.log.line("refusing connections: \(cause.rawValue) (\(address))", now: now()))
        }
        if let line { logger.notice("\(line)") }
        return decision == .admit
    }

    func leave(from address: String) {
        state.withLockedValue { $0.admission.leave(from: address) }
    }

    func closedAtDeadline(_ address: String) {
        let line = state.withLockedValue {
            $0.log.line("closing connections that did not log in within \(limits.deadlineSeconds) s", now: now())
        }
        if let line { logger.notice("\(line) (\(address))") }
    }
}

/// First in every server connection's pipeline: admits the connection through the gate or closes
/// it, and closes it at the login deadline unless `admitted()` came first (a login, a resume, a
/// transit ticket). Slow bytes, half a frame and a handshake that never logs in all end there.
final class AdmissionHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = NIOAny

    private let gate: AdmissionGate
    private let eventLoop: any EventLoop
    // Touched only on `eventLoop`.
    private var address = "?"
    private var counted = false
    private var deadline: Scheduled<Void>?
    private var context: ChannelHandlerContext?

    init(gate: AdmissionGate, eventLoop: any EventLoop) {
        self.gate = gate
        self.eventLoop = eventLoop
    }

    func channelActive(context: ChannelHandlerContext) {
        self.context = context
        address = context.channel.remoteAddress?.ipAddress ?? "?"
        guard gate.arrive(from: address) else {
            context.close(promise: nil)
            return
        }
        counted = true
        deadline = context.eventLoop.scheduleTask(in: .seconds(gate.limits.deadlineSeconds)) { [weak self] in
            guard let self, self.counted, let context = self.context else { return }
            self.gate.closedAtDeadline(self.address)
            context.close(promise: nil)
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        release()
        self.context = nil
        context.fireChannelInactive()
    }

    /// The connection proved itself (from any thread): it no longer counts, and has no deadline.
    func admitted() {
        eventLoop.execute { self.release() }
    }

    private func release() {
        deadline?.cancel()
        deadline = nil
        if counted { gate.leave(from: address) }
        counted = false
    }
}

extension ConnectionAdmission.Limits {
    init(_ configuration: ServerConfiguration) {
        self.init(deadlineSeconds: configuration.loginDeadlineSeconds, perAddress: configuration.waitingPerAddress,
                  total: configuration.waitingTotal)
    }
}
