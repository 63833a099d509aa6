/// How many UDP handshake initiations one source address may have answered (spec §UDP packets,
/// Handshake over UDP): a token bucket per address, `burst` deep, refilled at `perSecond`. An
/// initiation that carries a right MAC still costs the responder four Diffie-Hellmans; a contact's
/// device knows the key the MAC needs, so the MAC alone does not stop a flood. Pure; time is
/// passed in.
public struct HandshakeRateLimit: Sendable {
    public let perSecond: Double
    public let burst: Double
    private var buckets: [String: (tokens: Double, atMillis: UInt64)] = [:]
    /// Addresses remembered at most; past it, the full buckets (quiet addresses) are forgotten.
    static let remembered = 4096

    public init(perSecond: Double = 10, burst: Double = 20) {
        self.perSecond = perSecond
        self.burst = burst
    }

    /// Whether an initiation from `source` may be answered now (it takes a token if so).
    public mutating func allow(_ source: String, nowMillis: UInt64) -> Bool {
        var bucket = buckets[source] ?? (burst, nowMillis)
        let elapsed = Double(nowMillis &- min(bucket.atMillis, nowMillis)) / 1000
        bucket.tokens = min(burst, bucket.tokens + elapsed * perSecond)
        bucket.atMillis = nowMillis
        let allowed = bucket.tokens >= 1
        if allowed { bucket.tokens -= 1 }
        buckets[source] = bucket
        if buckets.count > Self.remembered { forgetQuiet(nowMillis) }
        return allowed
    }

    private mutating func forgetQuiet(_ nowMillis: UInt64) {
        buckets = buckets.filter { _, bucket in
            bucket.tokens + Double(nowMillis &- min(bucket.atMillis, nowMillis)) / 1000 * perSecond < burst
        }
    }
}
