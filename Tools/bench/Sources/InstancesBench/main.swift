import BenchSupport
import Foundation
import KithCore
import KithCrypto
import KithNet
import KithWire
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

// Several `kith server` instances on one PostgreSQL against one on SQLite (issue 18), in one run:
// sessions held, token reconnects per second, relay latency from a device on the first instance
// to its sibling on the last at 1,000 messages/s, and each instance's RSS.
//
//   InstancesBench KITH SESSIONS STORE-URL        (Tools/bench/instances starts the database)
//   InstancesBench worker INVITE SESSIONS PREFIX  (one load process: it holds SESSIONS sessions)
//
// One process may hold about 20,000 sockets here, so every instance gets a worker process of its
// own that signs up, logs in and then holds its sessions, pinging each every 5 s as agents do.

let arguments = CommandLine.arguments
let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
let devicesPerAccount = 4

func millis(_ seconds: Double) -> String { String(format: "%.2f ms", seconds * 1000) }

/// Signs up the accounts of `devices` (through the first device of each) and logs each device
/// in; returns the connections, logged in, and their logins.
func logIn(_ devices: [Device], at invites: @escaping @Sendable (Int) -> Invite,
           observe: @escaping @Sendable (Int) -> (@Sendable (Envelope) -> Void)? = { _ in nil })
    async throws -> [Int: (connection: ClientConnection, login: LoginResult)] {
    var firsts: [String: Int] = [:]
    for (i, device) in devices.enumerated() where firsts[device.account] == nil { firsts[device.account] = i }
    let signups = Array(firsts.values)
    _ = try await inParallel(signups.count, width: 32) { n in
        let i = signups[n]
        let c = try await connect(invites(i), devices[i], group: group)
        _ = try await c.request(.signup(.init(account: devices[i].account, password: "password1")))
        await c.close()
    }
    let done = NIOLockedValueBox<[Int: (connection: ClientConnection, login: LoginResult)]>([:])
    _ = try await inParallel(devices.count, width: 64) { i in
        let d = devices[i]
        let c = try await connect(invites(i), d, group: group, observe: observe(i))
        var answer: Envelope
        repeat {
            answer = try await c.request(.login(.init(account: d.account, password: "password1", terminalType: .pc, deviceName: "d\(i)",
                                                      clientVersion: "bench", deviceKey: d.identity.publicKey.rawValue, addresses: [])),
                                         timeout: .seconds(120))
            guard case .errorMessage(let error) = answer.message, error.code == ErrorCode.rateLimited.rawValue,
                  let wait = error.retryAfterMillis, wait <= 2000 else { break }
            try await Task.sleep(for: .milliseconds(Int(wait)))
        } while true
        guard case .loginResult(let result) = answer.message else { throw ChannelFailure("login \(i): \(answer.message)") }
        done.withLockedValue { $0[i] = (c, result) }
    }
    return done.withLockedValue { $0 }
}

// MARK: - A worker: holds its sessions until its input closes

if arguments.count == 5, arguments[1] == "worker" {
    let invite = try Invite(parsing: arguments[2])
    let count = Int(arguments[3])!, prefix = arguments[4]
    let devices = (0..<count).map { Device(account: "\(prefix)\($0 / devicesPerAccount)") }
    let start = now()
    let sessions = try await logIn(devices, at: { _ in invite })
    let pings = keepAlive(sessions.values.map(\.connection), every: 5)
    let held = "held \(sessions.values.filter { !$0.connection.isClosed }.count) in \(String(format: "%.1f", now() - start)) s\n"
    FileHandle.standardOutput.write(Data(held.utf8))
    while readLine() != nil {}
    pings.cancel()
    print("held \(sessions.values.filter { !$0.connection.isClosed }.count) at the end")
    exit(0)
}

// MARK: - The coordinator

let kith = arguments[1]
let sessionsPerInstance = Int(arguments[2])!
let storeURL = arguments[3]
let me = URL(fileURLWithPath: arguments[0]).resolvingSymlinksInPath().path

/// A worker process holding `count` sessions on `server`.
final class Worker: @unchecked Sendable {
    let process = Process()
    let input = Pipe(), output = Pipe()
    var lines: [String] = []

    init(_ server: ServerProcess, count: Int, prefix: String) throws {
        process.executableURL = URL(fileURLWithPath: me)
        process.arguments = ["worker", server.invite.description, String(count), prefix]
        process.standardInput = input
        process.standardOutput = output
        try process.run()
    }

    /// The first line it prints (after its sessions are up).
    func held() -> String {
        var data = Data()
        while let byte = try? output.fileHandleForReading.read(upToCount: 1), !byte.isEmpty, byte != Data([10]) { data += byte }
        return String(decoding: data, as: UTF8.self)
    }

    func stop() -> String {
        try? input.fileHandleForWriting.close()
        let rest = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return rest.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

struct Outcome {
    let name: String
    var held = 0
    var reconnectsPerSecond = 0.0
    var relay: [Double] = []
    var unanswered = 0
    var relayAfterReconnects: [Double] = []
    var unansweredAfterReconnects = 0
    /// Acknowledged payloads that came after the run's patience, and those that never came.
    var late = (afterReconnects: 0, later: 0)
    var lost = (afterReconnects: 0, later: 0)
    var rss: [Double] = []
}

/// How long after the first relay run the second starts: two instances on PostgreSQL took up to
/// 42 s to work off what 2,000 devices coming back at once set going (19,200 sessions each).
let settling = 45.0
/// Relayed payloads per second (`KITH_BENCH_RELAY_RATE`, default the issue's 1,000): a lower rate
/// shows what a payload costs when the two cores are not saturated.
let relayRate = Double(ProcessInfo.processInfo.environment["KITH_BENCH_RELAY_RATE"] ?? "") ?? 1000

/// Sent and arrival times of relayed payloads.
let stamps = NIOLockedValueBox<(sent: [Int: Double], latencies: [Double])>(([:], []))
/// The numbers of the payloads the server acknowledged and of those that arrived, however late:
/// an acknowledged payload that never arrives is lost, one that arrives after a run's patience late.
let ledger = NIOLockedValueBox<(acknowledged: Set<Int>, arrived: Set<Int>)>(([], []))

/// Of the payloads numbered in `range`: those acknowledged that arrived after `counted` were
/// timed, and those acknowledged that have not arrived (waiting up to `patience` seconds for them).
func lateAndLost(_ range: Range<Int>, timed counted: Int, patience: Double) async throws -> (late: Int, lost: Int) {
    let deadline = now() + patience
    func missing() -> Int { ledger.withLockedValue { $0.acknowledged.subtracting($0.arrived).filter(range.contains).count } }
    while missing() > 0 && now() < deadline { try await Task.sleep(for: .milliseconds(100)) }
    let arrived = ledger.withLockedValue { ledger in ledger.arrived.filter { range.contains($0) && ledger.acknowledged.contains($0) }.count }
    return (max(0, arrived - counted), missing())
}

/// 5,000 relayed payloads at `relayRate` a second (1,000 by default), each from the first device
/// of a pair to the second: their latencies, from sending to arrival, and how many were not acknowledged.
func relay(over paired: [Int: (connection: ClientConnection, login: LoginResult)], pairs: Int, numberedFrom first: Int)
    async throws -> ([Double], Int) {
    let count = 5000
    let unanswered = NIOLockedValueBox(0)
    let acknowledged = NIOLockedValueBox<[Double]>([])
    let start = now()
    _ = try await inParallel(count, width: 256) { i in
        let wait = start + Double(i) / relayRate - now()
        if wait > 0 { try await Task.sleep(for: .microseconds(Int(wait * 1_000_000))) }
        let pair = i % pairs
        let payload = withUnsafeBytes(of: UInt64(first + i).bigEndian) { Array($0) } + [UInt8](repeating: 0xab, count: 112)
        let sent = now()
        stamps.withLockedValue { $0.sent[first + i] = sent }
        let answer = try? await paired[pair * 2]!.connection.request(.relaySend(.init(to: paired[pair * 2 + 1]!.login.deviceID, payload: payload)))
        if answer?.message != .ack(.init()) { unanswered.withLockedValue { $0 += 1 } } else {
            let took = now() - sent
            acknowledged.withLockedValue { $0.append(took) }
            ledger.withLockedValue { _ = $0.acknowledged.insert(first + i) }
        }
    }
    say("    the sender's Ack (committed): p50 \(millis(percentile(acknowledged.withLockedValue { $0 }, 0.5))), "
        + "p99 \(millis(percentile(acknowledged.withLockedValue { $0 }, 0.99)))")
    let patience = now() + 30
    while stamps.withLockedValue({ $0.latencies.count }) < count - unanswered.withLockedValue({ $0 }) && now() < patience {
        try await Task.sleep(for: .milliseconds(5))
    }
    return (stamps.withLockedValue { state in defer { state = ([:], []) }; return state.latencies }, unanswered.withLockedValue { $0 })
}

func run(_ name: String, servers: [ServerProcess]) async throws -> Outcome {
    var outcome = Outcome(name: name)
    // Each instance ends up holding as many sessions as the one alone: its worker's and its share
    // of this process's 2,200 (the relay pairs and the reconnecting ones).
    ledger.withLockedValue { $0 = ([], []) }
    let perWorker = sessionsPerInstance + 2200 - 2200 / servers.count
    say("\(name): \(servers.count) instance(s), a worker each holding \(perWorker) sessions")
    let workers = try servers.enumerated().map { try Worker($1, count: perWorker, prefix: "w\($0)x") }
    for (i, worker) in workers.enumerated() { say("  worker \(i): \(worker.held())") }
    // Relay pairs: the first device of each account on the first instance, the second on the last.
    let pairs = 100
    let pairDevices = (0..<pairs * 2).map { Device(account: "pair\($0 / 2)x") }
    let paired = try await logIn(pairDevices, at: { i in servers[i % 2 == 0 ? 0 : servers.count - 1].invite }, observe: { i in
        guard i % 2 == 1 else { return nil }
        return { envelope in
            guard case .relayDeliver(let d) = envelope.message else { return }
            let sequence = d.payload.prefix(8).reduce(0) { $0 << 8 | Int($1) }
            let at = now()
            ledger.withLockedValue { _ = $0.arrived.insert(sequence) }
            stamps.withLockedValue { state in
                if let sent = state.sent.removeValue(forKey: sequence) { state.latencies.append(at - sent) }
            }
        }
    })
    // The reconnect rate: 2,000 more sessions spread over the instances, dropped and resumed with their tokens.
    let reconnecting = (0..<2000).map { Device(account: "back\($0 / 2)x") }
    let invite: @Sendable (Int) -> Invite = { i in servers[i % servers.count].invite! }
    let first = try await logIn(reconnecting, at: invite)
    for session in first.values { await session.connection.close() }
    try await Task.sleep(for: .seconds(2))
    let resumed = NIOLockedValueBox<[ClientConnection]>([])
    let reconnectTime = try await inParallel(reconnecting.count, width: 256) { i in
        let c = try await connect(invite(i + 1), reconnecting[i], group: group)  // another instance than its login's, if there are several
        let answer = try await c.request(.resume(.init(token: first[i]!.login.token)), timeout: .seconds(60))
        guard case .loginResult = answer.message else { throw ChannelFailure("resume \(i): \(answer.message)") }
        resumed.withLockedValue { $0.append(c) }
    }
    outcome.reconnectsPerSecond = Double(reconnecting.count) / reconnectTime
    say("  token reconnects: \(String(format: "%.0f", outcome.reconnectsPerSecond))/s")
    let pings = keepAlive(paired.values.map(\.connection) + resumed.withLockedValue { $0 }, every: 5)
    for p in 0..<pairs {
        let receiver = paired[p * 2 + 1]!.connection
        Task {
            for await envelope in receiver.unsolicited {
                guard case .relayDeliver(let d) = envelope.message else { continue }
                try? await receiver.send(.relayAck(.init(relayID: d.relayID)))
            }
        }
    }
    // Relay right after the reconnects, while the instances still work off what 2,000 devices
    // coming back set going (presence, device lists, word to the other instances) ...
    try await Task.sleep(for: .seconds(2))
    (outcome.relayAfterReconnects, outcome.unansweredAfterReconnects) = try await relay(over: paired, pairs: pairs, numberedFrom: 0)
    say("  relay at \(Int(relayRate))/s right after the reconnects: p50 \(millis(percentile(outcome.relayAfterReconnects, 0.5))), "
        + "p99 \(millis(percentile(outcome.relayAfterReconnects, 0.99)))")
    // ... and again once that is done (a fixed wait: the servers' own CPU use does not tell, as
    // their presence work mostly waits for PostgreSQL): the held sessions' pings alone.
    try await Task.sleep(for: .seconds(Int(settling)))
    (outcome.late.afterReconnects, outcome.lost.afterReconnects)
        = try await lateAndLost(0..<5000, timed: outcome.relayAfterReconnects.count, patience: 0)
    (outcome.relay, outcome.unanswered) = try await relay(over: paired, pairs: pairs, numberedFrom: 5000)
    say("  \(Int(settling)) s later, relay at \(Int(relayRate))/s: p50 \(millis(percentile(outcome.relay, 0.5))), "
        + "p99 \(millis(percentile(outcome.relay, 0.99)))")
    (outcome.late.later, outcome.lost.later) = try await lateAndLost(5000..<10000, timed: outcome.relay.count, patience: 30)
    outcome.rss = servers.map(\.residentMiB)
    pings.cancel()
    // Sessions held: those still open after the relay runs (a server that falls behind closes some).
    outcome.held = paired.values.filter { !$0.connection.isClosed }.count + resumed.withLockedValue { $0 }.filter { !$0.isClosed }.count
    for (i, worker) in workers.enumerated() {
        let line = worker.stop()
        say("  worker \(i): \(line)")
        outcome.held += Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }
    for session in paired.values { await session.connection.close() }
    for c in resumed.withLockedValue({ $0 }) { await c.close() }
    for server in servers { server.stop() }
    return outcome
}

say("kith instances bench: \(sessionsPerInstance) sessions per instance; server \(kith)")
let single = try await run("one instance, SQLite", servers: [try ServerProcess(kith, ["--open-signup", "--cheap-password-hashes"])])
let firstInstance = try ServerProcess(kith, ["--open-signup", "--cheap-password-hashes", "--store", storeURL])
let secondInstance = try ServerProcess(kith, ["--open-signup", "--cheap-password-hashes", "--store", storeURL], sameKeyAs: firstInstance)
let shared = try await run("two instances, one PostgreSQL", servers: [firstInstance, secondInstance])

// MARK: - Report

func row(_ what: String, _ one: String, _ two: String, _ aim: String) {
    print(what.padding(toLength: 44, withPad: " ", startingAt: 0) + " " + one.padding(toLength: 22, withPad: " ", startingAt: 0)
          + " " + two.padding(toLength: 26, withPad: " ", startingAt: 0) + " " + aim)
}
print("")
print("kith server instances: one on SQLite against two on one PostgreSQL (loopback, release build, \(ProcessInfo.processInfo.activeProcessorCount) cores shared by all)")
print("each instance holds \(sessionsPerInstance + 2200) sessions: a load process of its own holds most (a ping every 5 s each, "
      + "as agents send), this one its share of 200 relay sessions and 2,000 reconnecting ones; relay from the first instance to the last")
row("measure", single.name, shared.name, "aim")
row("sessions held", "\(single.held)", "\(shared.held) (\(String(format: "%.2f×", Double(shared.held) / Double(max(1, single.held)))))",
    "two ≥ 1.9× one")
row("token reconnects (TCP + Noise IK + Resume)", String(format: "%.0f /s", single.reconnectsPerSecond),
    String(format: "%.0f /s (%.2f×)", shared.reconnectsPerSecond, shared.reconnectsPerSecond / single.reconnectsPerSecond), "")
row("relay at \(Int(relayRate)) msg/s after reconnects: p50", millis(percentile(single.relayAfterReconnects, 0.5)),
    millis(percentile(shared.relayAfterReconnects, 0.5)), "")
row("relay at \(Int(relayRate)) msg/s after reconnects: p99", millis(percentile(single.relayAfterReconnects, 0.99)),
    millis(percentile(shared.relayAfterReconnects, 0.99)), "")
row("relay after reconnects: unanswered/late/lost", "\(single.unansweredAfterReconnects) / \(single.late.afterReconnects) / \(single.lost.afterReconnects)",
    "\(shared.unansweredAfterReconnects) / \(shared.late.afterReconnects) / \(shared.lost.afterReconnects)", "lost 0")
row("relay at \(Int(relayRate)) msg/s, \(Int(settling)) s later: p50", millis(percentile(single.relay, 0.5)), millis(percentile(shared.relay, 0.5)), "")
row("relay at \(Int(relayRate)) msg/s, \(Int(settling)) s later: p99", millis(percentile(single.relay, 0.99)), millis(percentile(shared.relay, 0.99)),
    String(format: "across instances < 10 ms at 1000 msg/s (%.2f of aim)", percentile(shared.relay, 0.99) / 0.010))
row("relay \(Int(settling)) s later: unanswered/late/lost", "\(single.unanswered) / \(single.late.later) / \(single.lost.later)",
    "\(shared.unanswered) / \(shared.late.later) / \(shared.lost.later)", "lost 0")
row("server RSS", single.rss.map { String(format: "%.0f MiB", $0) }.joined(separator: ", "),
    shared.rss.map { String(format: "%.0f MiB", $0) }.joined(separator: ", "), "")
exit(0)
