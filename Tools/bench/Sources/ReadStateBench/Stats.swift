import Foundation

/// Latency samples in nanoseconds, summarised in milliseconds.
struct Samples {
    private(set) var nanos: [UInt64] = []

    mutating func append(_ value: UInt64) { nanos.append(value) }

    var count: Int { nanos.count }

    /// The nearest-rank percentile (`p` in 0…1) in milliseconds; nan without samples.
    func percentile(_ p: Double) -> Double {
        guard !nanos.isEmpty else { return .nan }
        let sorted = nanos.sorted()
        let rank = max(1, Int((p * Double(sorted.count)).rounded(.up)))
        return Double(sorted[min(rank, sorted.count) - 1]) / 1e6
    }

    var p50: Double { percentile(0.50) }
    var p90: Double { percentile(0.90) }
    var p99: Double { percentile(0.99) }
    var maximum: Double { percentile(1) }

    /// "p50 / p90 / p99 / max" with units, for the details under the table.
    var spread: String {
        "p50 \(ms(p50)) / p90 \(ms(p90)) / p99 \(ms(p99)) / max \(ms(maximum)) (\(count) samples)"
    }
}

/// Milliseconds with a precision that suits the value (0.031 ms, 1.24 ms, 812 ms).
func ms(_ value: Double) -> String {
    guard value.isFinite else { return "—" }
    if value < 1 { return String(format: "%.3f ms", value) }
    if value < 100 { return String(format: "%.2f ms", value) }
    return String(format: "%.0f ms", value)
}
