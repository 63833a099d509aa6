import Foundation

/// Everything measured in one run, for the table.
struct Results {
    var reads: Int
    var bulk: Int
    var siblings: [String]
    /// How alice1 reached each sibling during the reads, e.g. "alice2 relay, alice3 relay".
    var paths: String
    var udp: Samples
    var status: Samples
    /// fsync after a 4 KiB write, in place and appending.
    var fsync: (overwrite: Samples, append: Samples)
    var readLatency: ReadLatency
    var convergence: Convergence
    var sendSeconds: (first: Double, bulk: Double)
    /// /proc/loadavg at the start and at the end of the run.
    var load: (start: String, end: String)
}

/// Prints the result table (Markdown, to paste into the README) and the details under it.
func printReport(_ r: Results, findings: [String]) {
    func row(_ cells: String...) { print("| " + cells.joined(separator: " | ") + " |") }
    func count(_ n: Int) -> String { n.formatted(.number.grouping(.automatic)) }
    let converged = r.convergence.converged.map { ms($0 * 1000) } ?? "never"

    print("")
    print("Read state (issue 5): alice1 marks bob's messages read; alice2 and alice3 must show it.")
    print("")
    row("measure", "p50", "p99", "aim")
    row("---", "---", "---", "---")
    // One run measures one path: the one alice1's agent used to reach its siblings.
    let pathNames = Set(r.paths.split(separator: ",").compactMap { $0.split(separator: " ").last.map(String.init) })
    let relayOnly = pathNames == ["relay"]
    let via = relayOnly ? "via the relay" : pathNames.isSubset(of: ["direct", "lan"]) ? "over direct paths" : "paths: \(r.paths)"
    row("read → viewed on both siblings, \(via) (\(count(r.reads)) reads, one at a time)",
        ms(r.readLatency.both.p50), ms(r.readLatency.both.p99), "p99 < 10 ms")
    for (name, samples) in zip(r.siblings, r.readLatency.perSibling) {
        row("read → viewed on \(name) alone", ms(samples.p50), ms(samples.p99), "")
    }
    if relayOnly {
        row("read → viewed over a direct device-to-device path", "not measured", "",
            "no direct path in this run (issue 4; agents before it, or with --udp off)")
    } else {
        row("read → viewed via the relay", "not measured", "", "KITH_BENCH_AGENT_ARGS='--udp off' measures it")
    }
    row("UDP loopback round trip (the floor)", ms(r.udp.p50), ms(r.udp.p99), "—")
    row("local API `status` round trip", ms(r.status.p50), ms(r.status.p99), "—")
    row("\(count(r.bulk)) marked read at once → converged on both siblings", converged + " (once)", "", "< 1 s")

    print("")
    print("details:")
    print("  read → viewed, both siblings:  \(r.readLatency.both.spread)")
    for (name, samples) in zip(r.siblings, r.readLatency.perSibling) {
        print("  read → viewed on \(name):       \(samples.spread)")
    }
    print("  the read call itself (request → response): \(r.readLatency.call.spread)")
    print("  UDP loopback round trip:        \(r.udp.spread)")
    print("  local API status round trip:    \(r.status.spread)")
    print("  fsync, 4 KiB written in place:  \(r.fsync.overwrite.spread)")
    print("  fsync, 4 KiB appended:          \(r.fsync.append.spread)")
    let perSibling = zip(r.siblings, r.convergence.perSibling).map { "\($0) \($1.map { ms($0 * 1000) } ?? "never")" }
    print("  read all: the call took \(ms(r.convergence.call * 1000)); unread 0 on " + perSibling.joined(separator: ", "))
    print(String(format: "  bob's sends: %@ in %.1f s, then %@ in %.1f s (until unread on every alice device)",
                 count(r.reads), r.sendSeconds.first, count(r.bulk), r.sendSeconds.bulk))
    print("  load average (1, 5, 15 min): \(r.load.start) at the start, \(r.load.end) at the end, on \(ProcessInfo.processInfo.activeProcessorCount) cores")
    print("  paths from alice1 during the reads: \(r.paths)")
    print("")
    if findings.isEmpty {
        print("findings: none (every viewed event arrived, with the expected unread counts)")
    } else {
        print("findings:")
        for finding in findings { print("  - \(finding)") }
    }
}
