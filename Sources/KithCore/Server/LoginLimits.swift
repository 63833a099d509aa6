/// Who may have a password checked now (spec §Sessions, Login step 2): the rule behind logins,
/// account links and master changes. Pure; time is passed in.
///
/// Three counts of failures in a sliding window: per account and source address (so one address
/// guessing at alice is slowed), per address (so one address guessing at many accounts is), and
/// per account — which slows only addresses that have failed for that account themselves, so a
/// flood of guesses from elsewhere never locks the owner out at an address of their own, and a
/// device with a token (`Resume`) is never asked for a password at all.
///
/// An attempt counts as a failure from the moment it is let through, before the hash is checked:
/// thirty attempts at once cannot all pass a limit of ten because none has finished yet. A right
/// password takes its count back.
public struct LoginLimits: Sendable {
    public struct Settings: Sendable, Equatable {
        public var perAccountAndAddress = 10
        public var perAddress = 30
        public var perAccount = 100
        public var windowMillis: UInt64 = 5 * 60 * 1000

        public init(perAccountAndAddress: Int = 10, perAddress: Int = 30, perAccount: Int = 100, windowMillis: UInt64 = 5 * 60 * 1000) {
            self.perAccountAndAddress = perAccountAndAddress
            self.perAddress = perAddress
            self.perAccount = perAccount
            self.windowMillis = windowMillis
        }
    }

    /// One attempt let through: what `succeeded` needs to take its count back.
    public struct Attempt: Sendable, Equatable {
        public let account: String
        public let address: String
        public let atMillis: UInt64
    }

    public enum Decision: Sendable, Equatable {
        /// Check the password now; report the result with `succeeded` (a failure is counted already).
        case check(Attempt)
        /// Refuse (`rateLimited`): the earliest this may be tried again.
        case wait(millis: UInt64)
    }

    private var pairs: RateLimiter
    private var addresses: RateLimiter
    private var accounts: RateLimiter

    public init(_ settings: Settings = Settings()) {
        pairs = RateLimiter(limit: settings.perAccountAndAddress, windowMillis: settings.windowMillis)
        addresses = RateLimiter(limit: settings.perAddress, windowMillis: settings.windowMillis)
        accounts = RateLimiter(limit: settings.perAccount, windowMillis: settings.windowMillis)
    }

    public mutating func begin(account: String, address: String, now: UInt64) -> Decision {
        let pair = Self.key(account, address)
        var waits = [pairs.retryAfter(pair, now: now), addresses.retryAfter(address, now: now)]
        if pairs.count(pair, now: now) > 0 { waits.append(accounts.retryAfter(account, now: now)) }
        if let wait = waits.compactMap({ $0 }).max() { return .wait(millis: max(wait, 1)) }
        pairs.recordFailure(pair, now: now)
        addresses.recordFailure(address, now: now)
        accounts.recordFailure(account, now: now)
        return .check(Attempt(account: account, address: address, atMillis: now))
    }

    /// The password was right: the attempt was no failure, and the pair starts afresh.
    public mutating func succeeded(_ attempt: Attempt) {
        withdraw(attempt)
        pairs.reset(Self.key(attempt.account, attempt.address))
    }

    /// The password was not checked after all (the server was too busy): its count goes back,
    /// and the failures before it stay.
    public mutating func withdraw(_ attempt: Attempt) {
        pairs.remove(Self.key(attempt.account, attempt.address), at: attempt.atMillis)
        addresses.remove(attempt.address, at: attempt.atMillis)
        accounts.remove(attempt.account, at: attempt.atMillis)
    }

    private static func key(_ account: String, _ address: String) -> String { account + "\u{0}" + address }
}
