/// The round-trip estimate and retransmission timeout of RFC 6298, in milliseconds. Samples
/// come only from segments sent once (Karn's rule, enforced by the caller); the backed-off
/// timeout stays until the next valid sample.
public struct RTTEstimator: Equatable, Sendable {
    public private(set) var smoothed: Double?
    public private(set) var variation: Double = 0
    /// The smallest sample seen: the reordering window is a fraction of it.
    public private(set) var minimum: Double?
    public private(set) var latest: Double?
    /// The current timeout, backoff included.
    public private(set) var timeout: UInt64
    public let minTimeout: UInt64
    public let maxTimeout: UInt64
    /// Clock granularity, `G` in RFC 6298.
    static let granularity: Double = 1

    public init(initial: UInt64, minTimeout: UInt64, maxTimeout: UInt64) {
        self.timeout = initial
        self.minTimeout = minTimeout
        self.maxTimeout = maxTimeout
    }

    /// `sample` is now − send time; `ackDelay` is what the receiver says it held the ack back,
    /// subtracted only when that leaves at least the minimum (as QUIC does).
    public mutating func add(sample: Double, ackDelay: Double) {
        minimum = min(minimum ?? sample, sample)
        var adjusted = sample
        if let minimum, sample - ackDelay >= minimum { adjusted = sample - ackDelay }
        latest = adjusted
        if let srtt = smoothed {
            variation = 0.75 * variation + 0.25 * abs(srtt - adjusted)
            smoothed = 0.875 * srtt + 0.125 * adjusted
        } else {
            smoothed = adjusted
            variation = adjusted / 2
        }
        let rto = smoothed! + max(Self.granularity, 4 * variation)
        timeout = min(max(UInt64(rto.rounded(.up)), minTimeout), maxTimeout)
    }

    /// The timer expired: double it (RFC 6298 §5.5).
    public mutating func backOff() {
        timeout = min(timeout * 2, maxTimeout)
    }
}

/// NewReno-style window arithmetic (RFC 5681, RFC 6582) in bytes: slow start, congestion
/// avoidance, one multiplicative decrease per recovery episode, collapse to one segment on a
/// timeout. Loss detection lives in the sender; this only reacts.
public struct NewReno: Equatable, Sendable {
    public private(set) var window: Double
    public private(set) var slowStartThreshold: Double = .infinity
    /// Recovery lasts until everything sent before the loss is acknowledged.
    public private(set) var recoveryEnd: UInt64?
    let segmentSize: Double
    let maxWindow: Double
    public static let initialSegments = 10.0  // RFC 6928
    public static let minimumSegments = 2.0
    public static let beta = 0.5

    public init(segmentSize: Int, maxWindow: Int) {
        self.segmentSize = Double(segmentSize)
        self.maxWindow = Double(maxWindow)
        window = min(Self.initialSegments * Double(segmentSize), Double(maxWindow))
    }

    public var inSlowStart: Bool { window < slowStartThreshold }
    public var inRecovery: Bool { recoveryEnd != nil }

    /// Bytes newly acknowledged (cumulatively or selectively); `cumulative` is the receiver's new
    /// cumulative point, which may end recovery.
    public mutating func acknowledged(bytes: Int, cumulative: UInt64) {
        if let end = recoveryEnd {
            guard cumulative >= end else { return }  // no growth during recovery
            recoveryEnd = nil
        }
        if inSlowStart {
            window += Double(bytes)
        } else {
            window += segmentSize * Double(bytes) / window
        }
        window = min(window, maxWindow)
    }

    /// A segment was declared lost; `sequence` is the lost one and `highestSent` the highest
    /// sequence sent so far. Returns true if this started a new recovery episode (the window was cut).
    @discardableResult
    public mutating func lost(sequence: UInt64, highestSent: UInt64) -> Bool {
        if let end = recoveryEnd, sequence < end { return false }
        slowStartThreshold = max(window * Self.beta, Self.minimumSegments * segmentSize)
        window = slowStartThreshold
        recoveryEnd = highestSent + 1
        return true
    }

    /// The retransmission timer expired: everything in flight counts as lost. `repeated`: the
    /// same data timed out before (backoff), so the threshold stays where the first timeout put it.
    public mutating func timedOut(repeated: Bool) {
        if recoveryEnd == nil && !repeated {
            slowStartThreshold = max(window * Self.beta, Self.minimumSegments * segmentSize)
        }
        window = segmentSize
        recoveryEnd = nil
    }
}
