import Foundation

/// A failure that ends the run; `main.swift` prints it and exits with status 1.
struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Progress and diagnostics go to stderr; stdout carries only the result table.
func say(_ text: String) { FileHandle.standardError.write(Data((text + "\n").utf8)) }

/// Monotonic time in nanoseconds (CLOCK_MONOTONIC on Linux): every latency is a difference of two.
func monotonicNanos() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

/// Seconds since `start` (a `monotonicNanos()` value).
func secondsSince(_ start: UInt64) -> Double { Double(monotonicNanos() - start) / 1e9 }

/// The 1, 5 and 15-minute load averages (Linux): other work on the machine shows in every latency.
func loadAverage() -> String {
    let text = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? ""
    return text.split(separator: " ").prefix(3).joined(separator: " ")
}

/// Calls `done` every `interval` seconds until it returns true; throws after `timeout` seconds,
/// naming `what` and the last `state` that `done` left (for a useful failure message).
func poll(_ what: String, timeout: Double, interval: Double = 0.1, _ done: (inout String) throws -> Bool) throws {
    let start = monotonicNanos()
    var state = ""
    while true {
        if try done(&state) { return }
        if secondsSince(start) > timeout {
            throw BenchError("timed out after \(Int(timeout)) s waiting for \(what)\(state.isEmpty ? "" : " (last seen: \(state))")")
        }
        usleep(useconds_t(interval * 1_000_000))
    }
}

/// Surprises seen during the run (missing events, wrong counts…), printed after the table:
/// the bench measures on, and the next engineer reads what the agents got wrong.
final class Findings: @unchecked Sendable {  // guarded by `lock`
    private let lock = NSLock()
    private var notes: [String] = []

    func add(_ note: String) {
        lock.withLock { notes.append(note) }
        say("finding: \(note)")
    }

    var all: [String] { lock.withLock { notes } }
}
