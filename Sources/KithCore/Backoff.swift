/// Jittered exponential backoff for reconnecting: the n-th retry waits a random time in
/// [base·2ⁿ / 2, base·2ⁿ], capped, so many agents that lost one server do not return in step.
public struct Backoff: Sendable {
    public let baseMillis: UInt64
    public let capMillis: UInt64
    public private(set) var attempt = 0

    public init(baseMillis: UInt64 = 250, capMillis: UInt64 = 30_000) {
        self.baseMillis = baseMillis
        self.capMillis = capMillis
    }

    /// The wait before the next attempt; `random` gives a number in 0…1.
    public mutating func nextDelayMillis(random: () -> Double) -> UInt64 {
        let ceiling = min(capMillis, baseMillis << UInt64(min(attempt, 20)))
        attempt += 1
        return ceiling / 2 + UInt64(Double(ceiling / 2) * min(max(random(), 0), 1))
    }

    public mutating func reset() { attempt = 0 }
}
