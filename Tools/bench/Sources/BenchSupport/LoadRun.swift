import Foundation
import KithNet
import KithWire

/// What the load benches share: the clock, the report's percentiles, a bounded fan-out of work,
/// and the agents' keepalive played by many sessions.

public func now() -> Double { Date().timeIntervalSince1970 }

/// A line on stderr: progress, beside the report on stdout.
public func say(_ text: String) { FileHandle.standardError.write(Data((text + "\n").utf8)) }

public func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    return sorted.isEmpty ? .nan : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
}

/// Runs `work` for each index with at most `width` in flight; returns the wall time.
public func inParallel(_ count: Int, width: Int, _ work: @escaping @Sendable (Int) async throws -> Void) async throws -> Double {
    let start = now()
    try await withThrowingTaskGroup(of: Void.self) { group in
        var next = 0
        while next < min(width, count) { let i = next; group.addTask { try await work(i) }; next += 1 }
        while try await group.next() != nil {
            if next < count { let i = next; group.addTask { try await work(i) }; next += 1 }
        }
    }
    return now() - start
}

/// Pings every connection once per `seconds`, spread evenly (a few every 2 ms, as thousands of
/// agents' keepalives are, not in bursts), until the task is cancelled.
public func keepAlive(_ connections: [ClientConnection], every seconds: Double) -> Task<Void, Never> {
    Task {
        guard !connections.isEmpty else { return }
        let tick = 0.002
        let perTick = max(1, Int((Double(connections.count) * tick / seconds).rounded()))
        var next = 0
        while !Task.isCancelled {
            for _ in 0..<perTick {
                let connection = connections[next % connections.count]
                next += 1
                Task { _ = try? await connection.request(.ping(.init(nonce: 0))) }
            }
            try? await Task.sleep(for: .milliseconds(Int(tick * 1000)))
        }
    }
}
