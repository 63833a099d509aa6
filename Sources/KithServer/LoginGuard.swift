import KithCore

/// Failed-login limits per account and per source address (spec §Sessions, Login step 2).
actor LoginGuard {
    private var byAccount: RateLimiter
    private var byAddress: RateLimiter

    init(_ configuration: ServerConfiguration) {
        byAccount = RateLimiter(limit: configuration.failedLoginsPerAccount, windowMillis: configuration.failedLoginWindowMillis)
        byAddress = RateLimiter(limit: configuration.failedLoginsPerAddress, windowMillis: configuration.failedLoginWindowMillis)
    }

    /// Nil if this login may be tried now, else milliseconds to wait.
    func retryAfter(account: String, address: String, now: UInt64) -> UInt64? {
        [byAccount.retryAfter(account, now: now), byAddress.retryAfter(address, now: now)].compactMap { $0 }.max()
    }

    func failed(account: String, address: String, now: UInt64) {
        byAccount.recordFailure(account, now: now)
        byAddress.recordFailure(address, now: now)
    }

    func succeeded(account: String) {
        byAccount.reset(account)
    }
}
