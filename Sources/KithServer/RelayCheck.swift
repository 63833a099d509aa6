import KithCore
import KithStore
import KithWire

/// What the server does with a `RelaySend` before its commit (spec §Relay): the same checks
/// whether the session's task or its event loop (`SessionLoopHandler`) handles the request.
enum RelayCheck: Sendable {
    /// Allowed: commit this item, then answer.
    case commit(RelayItem)
    /// Refused, with this answer.
    case refused(Message)
    /// The target is a device of another account: allowed only if it is a device of the
    /// caller's master that the caller's roster lists as linked (Protocol/links.md), which the
    /// caller asks `Presence` and checks again with `linkedInto` given.
    case needsLinks(target: DeviceRecord)
}

extension ServerContext {
    /// The checks of `request` from `device`: its target, `ServerRules.relay`, and
    /// `ServerRules.relayedSender` against the stored roster. `linkedInto` nil: not known yet.
    /// Reads the store (a device, a roster's bytes) without waiting for its writer.
    func relayCheck(_ request: RelaySend, from device: DeviceRecord, linkedInto: Bool?) -> RelayCheck {
        relayCheck(request, from: device, linkedInto: linkedInto, target: try? store.device(id: request.to),
                   roster: { rosters.current(account: device.account) })
    }

    /// The same checks with the target's device record read already (nil: no such device), and
    /// `roster` giving the sender's account's stored roster, asked for only when it decides.
    func relayCheck(_ request: RelaySend, from device: DeviceRecord, linkedInto: Bool?, target: DeviceRecord?,
                    roster: () -> ValidRoster?) -> RelayCheck {
        if let target, target.account != device.account, linkedInto == nil { return .needsLinks(target: target) }
        let linked = linkedInto ?? false
        switch ServerRules.relay(from: .init(device), to: request.to, targetAccount: target?.account, linkedInto: linked) {
        case .allowed:
            break
        case .refused(let code, let reason):
            if code == .forbidden { logger.notice("\(device.id) tried to relay to \(request.to) of another account") }
            return .refused(ServerSession.error(code, reason))
        }
        if let refusal = unapproved(device, roster: roster()) { return .refused(refusal) }
        return .commit(RelayItem(from: device.id, to: request.to, payload: request.payload,
                                 scope: linked ? device.account : nil, fromAccount: ServerSession.actingAccount(device)))
    }

    /// The refusal for a payload from a device its account's stored roster does not approve
    /// (`ServerRules.relayedSender`), or nil when it is approved.
    func unapproved(_ device: DeviceRecord) -> Message? {
        unapproved(device, roster: rosters.current(account: device.account))
    }

    private func unapproved(_ device: DeviceRecord, roster: ValidRoster?) -> Message? {
        guard case .refused(let code, let reason) = ServerRules.relayedSender(
            .init(device), roster: roster, actingForLinkedAccount: ServerSession.actingAccount(device) != nil) else { return nil }
        return ServerSession.error(code, reason)
    }

    /// The answer to a relayed item once the committer is done with it.
    func relayAnswer(_ result: Result<RelayOutcome, any Error>, to receiver: String) -> Message {
        switch result {
        case .success(.stored): return .ack(.init())
        case .success(.refused(let reason)): return ServerSession.error(.queueFull, reason)
        case .success(.receiverGone): return ServerSession.error(.notFound, "\(receiver) was revoked")
        case .failure(let error):
            logger.error("relay enqueue failed: \(error)")
            return ServerSession.error(.internalError, "the server could not store the message")
        }
    }
}
