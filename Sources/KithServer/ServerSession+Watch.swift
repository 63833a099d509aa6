import KithCore
import KithCrypto
import KithStore
import KithWire

/// Watch sessions (spec §Watch sessions): a watcher signs in with the account's password and gets
/// a token that is no device's; it subscribes to a few contacts and is sent their state when it
/// changes. Devices report their unread counts so a watcher can show them.
extension ServerSession {
    mutating func watchLogin(_ request: WatchLogin) async -> Message {
        let now = server.now()
        if let refusal = await passwordRefusal(account: request.account, password: request.password, for: "watch login", now: now) {
            return refusal
        }
        let token = secureRandomBytes(32)
        let expires = now + server.configuration.tokenLifetimeMillis
        do {
            try server.store.createWatchSession(tokenHash: Self.hash(token), account: request.account, expiresAtMillis: expires)
        } catch {
            logger.error("watch login failed: \(error)")
            return Self.error(.internalError, "the server could not record the watch session")
        }
        watching = request.account
        logger.info("watch session for \(request.account) opened from \(address)")
        return .watchSession(.init(token: token, expiresAtMillis: expires))
    }

    mutating func watchResume(_ token: [UInt8]) -> Message {
        guard let session = try? server.store.watchSession(tokenHash: Self.hash(token), now: server.now()) else {
            return Self.error(.sessionExpired, "the watch session is over; sign in again")
        }
        watching = session.account
        logger.info("watch session for \(session.account) resumed from \(address)")
        return .watchSession(.init(token: token, expiresAtMillis: session.expiresAtMillis))
    }

    /// The token is checked on every request: a revoked or expired one is refused at once.
    func watchSubscribe(_ request: WatchSubscribe) async -> Message {
        guard let watching,
              (try? server.store.watchSession(tokenHash: Self.hash(request.token), now: server.now()))??.account == watching
        else {
            await server.watchers.leave(connectionID: connectionID)
            return Self.error(.sessionExpired, "the watch session is over; sign in again")
        }
        let entries = await server.watchers.subscribe(connectionID: connectionID, account: watching, tokenHash: Self.hash(request.token),
                                                      contacts: request.contacts, outbound: outbound)
        return .watchState(.init(entries: entries))
    }

    func unreadReport(_ report: UnreadReport, from device: DeviceRecord) async -> Message {
        let account = Self.actingAccount(device) ?? device.account
        do {
            try server.store.recordUnreadReport(account: account, contact: report.contact, upToCode: Int64(clamping: report.upToCode),
                                                unread: Int(report.unread))
        } catch {
            logger.error("unread report failed: \(error)")
            return Self.error(.internalError, "the server could not record the report")
        }
        await server.watchers.unreadChanged(account: account, contact: report.contact)
        return .ack(.init())
    }
}
