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
/// password takes its count back. A limit reached only because of checks still under way (many
/// devices behind one address logging in at once) is answered with a short wait, the time a check
/// takes, not the rest of the window: those checks may yet be right.
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
        /// Check the password now; report the result with `succeeded`, `failed` or `withdraw` (a
        /// failure is counted already).
        case check(Attempt)
        /// Refuse (`rateLimited`): the earliest this may be tried again.
        case wait(millis: UInt64)
    }

    /// The wait when a limit is reached only by checks under way.
    public static let underWayWaitMillis: UInt64 = 1000

    private var pairs: RateLimiter
    private var addresses: RateLimiter
    private var accounts: RateLimiter
    /// Attempts let through whose check has not ended, per limiter key ("p", "a" or "c" and the key).
    private var underWay: [String: Int] = [:]

    public init(_ settings: Settings = Settings()) {
        pairs = RateLimiter(limit: settings.perAccountAndAddress, windowMillis: settings.windowMillis)
        addresses = RateLimiter(limit: settings.perAddress, windowMillis: settings.windowMillis)
        accounts = RateLimiter(limit: settings.perAccount, windowMillis: settings.windowMillis)
    }

    public mutating func begin(account: String, address: String, now: UInt64) -> Decision {
        let pair = Self.key(account, address)
        var waits = [Self.wait(&pairs, pair, underWay: underWay["p" + pair], now: now),
                     Self.wait(&addresses, address, underWay: underWay["a" + address], now: now)]
        if pairs.count(pair, now: now) > 0 { waits.append(Self.wait(&accounts, account, underWay: underWay["c" + account], now: now)) }
        if let wait = waits.compactMap({ $0 }).max() { return .wait(millis: max(wait, 1)) }
        pairs.recordFailure(pair, now: now)
        addresses.recordFailure(address, now: now)
        accounts.recordFailure(account, now: now)
        let attempt = Attempt(account: account, address: address, atMillis: now)
        for key in Self.underWayKeys(attempt) { underWay[key, default: 0] += 1 }
        return .check(attempt)
    }

    /// The password was right: the attempt was no failure, and the pair starts afresh.
    public mutating func succeeded(_ attempt: Attempt) {
        withdraw(attempt)
        pairs.reset(Self.key(attempt.account, attempt.address))
    }

    /// The password was wrong: the attempt stays counted as a failure; its check is over.
    public mutating func failed(_ attempt: Attempt) {
        ended(attempt)
    }

    /// The password was not checked after all (the server was too busy): its count goes back,
    /// and the failures before it stay.
    public mutating func withdraw(_ attempt: Attempt) {
        ended(attempt)
        pairs.remove(Self.key(attempt.account, attempt.address), at: attempt.atMillis)
        addresses.remove(attempt.address, at: attempt.atMillis)
        accounts.remove(attempt.account, at: attempt.atMillis)
    }

    /// Another instance of the server checked a password (the instances of one server share its
    /// limits, spec §Sessions): a wrong one counts here as one of this instance's own failures;
    /// a right one starts the pair afresh, as `succeeded` does.
    public mutating func checkedElsewhere(account: String, address: String, right: Bool, now: UInt64) {
        let pair = Self.key(account, address)
        guard !right else { return pairs.reset(pair) }
        pairs.recordFailure(pair, now: now)
        addresses.recordFailure(address, now: now)
        accounts.recordFailure(account, now: now)
    }

    private mutating func ended(_ attempt: Attempt) {
        for key in Self.underWayKeys(attempt) {
            let left = underWay[key, default: 0] - 1
            underWay[key] = left > 0 ? left : nil
        }
    }

    /// `limiter`'s wait for `key`, shortened when the failures it counts would stay under the
    /// limit without the checks still under way.
    private static func wait(_ limiter: inout RateLimiter, _ key: String, underWay: Int?, now: UInt64) -> UInt64? {
        guard let wait = limiter.retryAfter(key, now: now) else { return nil }
        guard let underWay, limiter.count(key, now: now) - underWay < limiter.limit else { return wait }
        return min(wait, underWayWaitMillis)
    }

    private static func underWayKeys(_ attempt: Attempt) -> [String] {
        ["p" + key(attempt.account, attempt.address), "a" + attempt.address, "c" + attempt.account]
    }

    private static func key(_ account: String, _ address: String) -> String { account + "\u{0}" + address }
}
