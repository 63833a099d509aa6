/// Which direct addresses lately refused or dropped a TCP stream: a sender skips the dial to them,
/// and its timeout (two seconds on a path whose NAT or firewall drops the SYN), and goes straight
/// to the UDP stream over the same path (probing TCP meanwhile in the background). An address is
/// dialled first again after `retryAfter`, or at once when a dial or probe to it worked; one never
/// seen is always dialled. Keyed by "host:port", so a sibling that moves to another address gets
/// its TCP dial again.
public struct DirectTCPMemory: Sendable {
    /// Ten minutes: a NAT's or firewall's rules seldom change sooner, and a push costs one dial
    /// timeout at most each time they may have.
    public static let retryAfter: UInt64 = 10 * 60_000
    /// Addresses remembered at most; the oldest failure goes first.
    public static let capacity = 64

    /// How long a dial waits for TCP's handshake: ten round trips of the direct UDP path (a peer
    /// that answers UDP in 5 ms answers a SYN in about as much), at least 300 ms, at most 2 s, and
    /// 2 s when the path's round trip is not known. A SYN the kernel sends again (after 1 s) is
    /// not waited for: the UDP stream takes over, and the background probe finds TCP later.
    public static func dialTimeoutMillis(rttMillis: Double?) -> Int64 {
        guard let rttMillis, rttMillis.isFinite, rttMillis >= 0 else { return 2000 }
        return Int64(min(2000, max(300, 10 * rttMillis)).rounded(.up))
    }

    private var failedAt: [String: UInt64] = [:]

    public init() {}

    /// Whether to dial TCP to `address` now (milliseconds on a monotonic clock).
    public func shouldDial(_ address: String, now: UInt64) -> Bool {
        guard let failed = failedAt[address] else { return true }
        return now >= failed &+ Self.retryAfter || now < failed
    }

    public mutating func dialFailed(_ address: String, now: UInt64) {
        failedAt = failedAt.filter { now < $0.value &+ Self.retryAfter && now >= $0.value }
        if failedAt[address] == nil, failedAt.count >= Self.capacity,
           let oldest = failedAt.min(by: { $0.value < $1.value })?.key {
            failedAt[oldest] = nil
        }
        failedAt[address] = now
    }

    public mutating func dialSucceeded(_ address: String) {
        failedAt[address] = nil
    }
}
