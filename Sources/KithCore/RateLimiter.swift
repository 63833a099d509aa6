/// Counts failures per key (an account, a source address) in a sliding time window and says
/// when a key has had too many. Time is passed in, so tests need no clock.
public struct RateLimiter: Sendable {
    public let limit: Int
    public let windowMillis: UInt64
    private var failures: [String: [UInt64]] = [:]

    public init(limit: Int, windowMillis: UInt64) {
        self.limit = limit
        self.windowMillis = windowMillis
    }

    /// Nil if `key` may try now; otherwise the milliseconds until it may.
    public mutating func retryAfter(_ key: String, now: UInt64) -> UInt64? {
        prune(key, now: now)
        guard let times = failures[key], times.count >= limit, let oldest = times.first else { return nil }
        return oldest + windowMillis - now
    }

    public mutating func recordFailure(_ key: String, now: UInt64) {
        prune(key, now: now)
        failures[key, default: []].append(now)
        if failures.count > 100_000 { failures = failures.filter { !$0.value.isEmpty } }  // bound memory
    }

    public mutating func reset(_ key: String) { failures[key] = nil }

    /// Failures of `key` within the window.
    public mutating func count(_ key: String, now: UInt64) -> Int {
        prune(key, now: now)
        return failures[key]?.count ?? 0
    }

    /// Takes back one failure recorded at `time` (one counted before it was known, that was not one).
    public mutating func remove(_ key: String, at time: UInt64) {
        guard let index = failures[key]?.firstIndex(of: time) else { return }
        failures[key]?.remove(at: index)
        if failures[key]?.isEmpty == true { failures[key] = nil }
    }

    private mutating func prune(_ key: String, now: UInt64) {
        guard var times = failures[key] else { return }
        times.removeAll { now >= $0 + windowMillis }
        failures[key] = times.isEmpty ? nil : times
    }
}
