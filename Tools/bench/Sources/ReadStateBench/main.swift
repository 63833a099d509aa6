import Foundation
import KithAPI

// Read-state benchmark (issue 5): how fast a message marked read on one device shows as read on
// the account's other devices, through a real `kith server` and four real agents, measured over
// the agents' local API sockets. Prints the result beside the aims and beside floors measured in
// the same run (loopback UDP, a local API call).
//
//   ReadStateBench KITH_BINARY [--reads N] [--bulk N] [--work DIR]
//
// --reads: messages read one at a time (default 1000); --bulk: messages then marked read at once
// (default 10000); --work: an empty directory to use (default: a new one under /tmp). The work
// directory is removed at the end unless KITH_BENCH_KEEP=1. Tools/bench/readstate builds and runs it.

var arguments = ArraySlice(CommandLine.arguments.dropFirst())
guard let kithPath = arguments.popFirst() else {
    say("usage: ReadStateBench KITH_BINARY [--reads N] [--bulk N] [--work DIR]")
    exit(64)
}
var reads = 1000, bulk = 10_000, workPath: String?
while let option = arguments.popFirst() {
    guard let value = arguments.popFirst() else { say("\(option) needs a value"); exit(64) }
    switch option {
    case "--reads": reads = Int(value) ?? 0
    case "--bulk": bulk = Int(value) ?? 0
    case "--work": workPath = value
    default: say("unknown option \(option)"); exit(64)
    }
}
guard reads > 0, bulk > 0 else { say("--reads and --bulk are positive numbers"); exit(64) }

let work = workPath.map { URL(fileURLWithPath: $0) }
    ?? FileManager.default.temporaryDirectory.appendingPathComponent("kith-readstate-\(UUID().uuidString.prefix(8))")
let findings = Findings()

do {
    try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    Leftovers.shared.install(directory: work, keep: ProcessInfo.processInfo.environment["KITH_BENCH_KEEP"] == "1")
    say("read-state bench: \(reads) reads one at a time, then \(bulk) at once; kith \(kithPath); work \(work.path)")
    let loadAtStart = loadAverage()

    // The server, two accounts, four agents, logged in and made contacts.
    let cluster = try Cluster.start(KithBinary(path: kithPath, work: work))
    let reader = try LocalAPIClient(cluster.alice[0])
    let siblingClients = try cluster.alice.dropFirst().map { try LocalAPIClient($0) }
    let bob = try LocalAPIClient(cluster.bob)

    // Event streams on alice1's two siblings, from before the first message.
    let siblings = try cluster.alice.dropFirst().map { try EventRecorder($0, contact: "bob", findings: findings) }

    // The floors, while nothing else runs.
    let udp = try udpRoundTrips(samples: 1000)
    let status = try statusRoundTrips(reader, samples: 1000)
    let disk = (overwrite: try fsyncs(in: work, samples: 200, growing: false),
                append: try fsyncs(in: work, samples: 200, growing: true))
    say("floors: UDP loopback p50 \(ms(udp.p50)), local API status p50 \(ms(status.p50)), fsync p50 \(ms(disk.overwrite.p50))")

    // bob sends `reads` messages; alice1 reads them one at a time, oldest first.
    say("bob sends \(reads) messages")
    let firstSend = try sendMessages(reads, numberedFrom: 0, bob: bob, alice: [reader] + siblingClients,
                                     unreadAfter: reads, findings: findings)
    for recorder in siblings {
        let events = recorder.waitForMessages(reads, timeout: 5)
        if events != reads { findings.add("\(recorder.name) sent \(events) message events for \(reads) messages") }
    }
    let codes = try reader.call(InboxRequest(limit: reads)).messages
        .filter { $0.contact == "bob" }.map(\.code)
    guard codes.count == reads else { throw BenchError("alice1's inbox lists \(codes.count) messages from bob, not \(reads)") }
    let paths = try cluster.settledSiblingPaths(reader)
    say("alice1 reads them one at a time; paths from alice1: \(paths)")
    let pathChangesBefore = siblings.map(\.pathChanges)
    let readLatency = try measureReadLatency(codes: codes, reader: reader, readerID: cluster.alice[0].deviceID,
                                             siblings: siblings, findings: findings)
    let pathsAfter = try cluster.siblingPaths(reader)
    if pathsAfter != paths { findings.add("the paths from alice1 changed during the reads: \(paths) → \(pathsAfter)") }
    for (recorder, before) in zip(siblings, pathChangesBefore) where recorder.pathChanges != before {
        findings.add("\(recorder.name) reported \(recorder.pathChanges - before) path changes during the reads")
    }

    // bob sends `bulk` more; alice1 marks them all read at once.
    say("bob sends \(bulk) messages")
    let bulkSend = try sendMessages(bulk, numberedFrom: reads, bob: bob, alice: [reader] + siblingClients,
                                    unreadAfter: bulk, findings: findings)
    say("alice1 marks all \(bulk) read at once")
    let convergence = try measureReadAll(contact: "bob", expected: bulk, reader: reader, siblings: siblings,
                                         siblingClients: siblingClients, findings: findings)
    siblings.forEach { $0.stop() }

    // The table.
    printReport(Results(reads: reads, bulk: bulk, siblings: siblings.map(\.name), paths: paths, udp: udp, status: status, fsync: disk,
                        readLatency: readLatency, convergence: convergence, sendSeconds: (firstSend, bulkSend),
                        load: (loadAtStart, loadAverage())),
                findings: findings.all)
} catch {
    say(Leftovers.shared.isInterrupted ? "read-state bench interrupted" : "read-state bench failed: \(error)")
    exit(1)  // the atexit handler stops the children and removes the work directory
}
exit(0)
