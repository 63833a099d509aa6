import BenchSupport
import Foundation
import KithCore
import KithCrypto
import KithNet
import KithWire
import NIOCore
import NIOConcurrencyHelpers
import NIOPosix

// Server load benchmark: one real `kith server` (release build), many device sessions held by
// this process. Prints what it reaches beside the aims of the skeleton issue and beside the
// round-trip floors measured in the same run. Usage: Tools/bench/run [sessions]

let arguments = CommandLine.arguments
let kith = arguments[1]
let sessionCount = arguments.count > 2 ? Int(arguments[2])! : 19_500
let devicesPerAccount = 4
let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)

func millis(_ seconds: Double) -> String { String(format: "%.3f ms", seconds * 1000) }

func connect(_ server: ServerProcess, _ device: Device, observe: (@Sendable (Envelope) -> Void)? = nil) async throws -> ClientConnection {
    try await connect(server, device, group: group, observe: observe)
}

actor Sessions {
    var connections: [Int: ClientConnection] = [:]
    var tokens: [Int: [UInt8]] = [:]
    var ids: [Int: String] = [:]
    func set(_ i: Int, _ c: ClientConnection) { connections[i] = c }
    func setLogin(_ i: Int, _ token: [UInt8], _ id: String) { tokens[i] = token; ids[i] = id }
    func all() -> [ClientConnection] { Array(connections.values) }
    func clear() { connections = [:] }
}

/// Loopback TCP round trip with plain sockets: the floor under any relay latency.
func tcpRoundTrip(samples: Int) throws -> [Double] {
    let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) } }
    listen(listener, 1)
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) } }
    let echo = Thread {
        let peer = accept(listener, nil, nil)
        var one: Int32 = 1
        setsockopt(peer, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var buffer = [UInt8](repeating: 0, count: 64)
        while true {
            let n = recv(peer, &buffer, 64, 0)
            if n <= 0 { break }
            _ = send(peer, buffer, n, 0)
        }
        close(peer)
    }
    echo.start()
    let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var one: Int32 = 1
    setsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, length) } }
    var results: [Double] = []
    var buffer = [UInt8](repeating: 7, count: 32)
    for _ in 0..<samples {
        let start = now()
        _ = send(client, buffer, 32, 0)
        var got = 0
        while got < 32 { got += max(0, recv(client, &buffer, 32 - got, 0)) }
        results.append(now() - start)
    }
    close(client)
    close(listener)
    return results
}

// MARK: - The run

say("kith bench: \(sessionCount) sessions, \(devicesPerAccount) devices per account; server \(kith)")
let floor = try tcpRoundTrip(samples: 2000)

// 1. Password logins at the real cost, on a server with default (interactive) argon2id.
let strict = try ServerProcess(kith, ["--open-signup"])
let loginDevice = Device(account: "login.bench")
let strictConnection = try await connect(strict, loginDevice)
_ = try await strictConnection.request(.signup(.init(account: "login.bench", password: "password1")))
let loginSamples = 40
let loginTime = try await inParallel(loginSamples, width: 4) { _ in
    let d = Device(account: "login.bench")
    let c = try await connect(strict, d)
    let answer = try await c.request(.login(.init(account: "login.bench", password: "password1", terminalType: .pc,
                                                  deviceName: "b", clientVersion: "bench", deviceKey: d.identity.publicKey.rawValue, addresses: [])))
    guard case .loginResult = answer.message else { throw ChannelFailure("login: \(answer.message)") }
    await c.close()
}
await strictConnection.close()
strict.stop()
let passwordLoginsPerSecond = Double(loginSamples) / loginTime
say("password logins: \(String(format: "%.1f", passwordLoginsPerSecond))/s (\(PasswordHash.Cost.interactive))")

// 2. Many sessions, on a server with cheap hashes so that creating them takes seconds.
let server = try ServerProcess(kith, ["--open-signup", "--cheap-password-hashes"])
let accounts = (sessionCount + devicesPerAccount - 1) / devicesPerAccount
let devices = (0..<sessionCount).map { Device(account: "acct\($0 / devicesPerAccount)") }
let signupTime = try await inParallel(accounts, width: 32) { a in
    let c = try await connect(server, devices[a * devicesPerAccount])
    _ = try await c.request(.signup(.init(account: "acct\(a)", password: "password1")))
    await c.close()
}
say("sign-ups: \(accounts) in \(String(format: "%.1f", signupTime)) s")
let sessions = Sessions()
let firstLogins = try await inParallel(sessionCount, width: 64) { i in
    let d = devices[i]
    let c = try await connect(server, d)
    var answer: Envelope
    repeat {
        // More logins than the server's password queue takes at once: it says when to try again, as agents do.
        answer = try await c.request(.login(.init(account: d.account, password: "password1", terminalType: .pc, deviceName: "d\(i)",
                                                  clientVersion: "bench", deviceKey: d.identity.publicKey.rawValue, addresses: [])))
        guard case .errorMessage(let error) = answer.message, error.code == ErrorCode.rateLimited.rawValue,
              let wait = error.retryAfterMillis, wait <= 2000 else { break }
        try await Task.sleep(for: .milliseconds(Int(wait)))
    } while true
    guard case .loginResult(let result) = answer.message else { throw ChannelFailure("login \(i): \(answer.message)") }
    await sessions.setLogin(i, result.token, result.deviceID)
    await sessions.set(i, c)
}
say("first logins: \(sessionCount) in \(String(format: "%.1f", firstLogins)) s")
try await Task.sleep(for: .seconds(2))
let rssHeld = server.residentMiB

// 3. Token reconnects: drop every session, then resume them all.
for c in await sessions.all() { await c.close() }
await sessions.clear()
try await Task.sleep(for: .seconds(2))
let tokens = await sessions.tokens
/// The relay runs go between device pairs of the same account: the first device of each of the
/// first `pairs` accounts sends, the second receives.
let pairs = 100
let stamps = NIOLockedValueBoxWrapper()
/// A receiver's arrival time is taken on the load client's event loop as the payload is
/// decrypted, before any task of the client sees it: the client's own task hops are not
/// counted as the server's latency.
func arrivals(_ i: Int) -> (@Sendable (Envelope) -> Void)? {
    guard i % devicesPerAccount == 1, i / devicesPerAccount < pairs else { return nil }
    return { envelope in
        guard case .relayDeliver(let d) = envelope.message else { return }
        stamps.arrived(d.payload.prefix(8).reduce(0) { $0 << 8 | Int($1) }, at: now())
    }
}
let reconnectCPUStart = (server.cpuSeconds, ownCPUSeconds())
let reconnectTime = try await inParallel(sessionCount, width: 256) { i in
    let c = try await connect(server, devices[i], observe: arrivals(i))
    let answer = try await c.request(.resume(.init(token: tokens[i]!)))
    guard case .loginResult = answer.message else { throw ChannelFailure("resume \(i): \(answer.message)") }
    await sessions.set(i, c)
}
let reconnectsPerSecond = Double(sessionCount) / reconnectTime
let reconnectCPU = ((server.cpuSeconds - reconnectCPUStart.0) / reconnectTime, (ownCPUSeconds() - reconnectCPUStart.1) / reconnectTime)
try await Task.sleep(for: .seconds(2))
let rssAfterReconnect = server.residentMiB
let held = await sessions.connections.count
say("token reconnects: \(String(format: "%.0f", reconnectsPerSecond))/s; sessions held \(held); server RSS \(String(format: "%.0f", rssAfterReconnect)) MiB")

// 4. Round trip through the server without storage (Ping), and relay latency at a fixed rate.
let connections = await sessions.connections
let ids = await sessions.ids
// A resume is answered before the server has told the device's siblings it is back: wait until
// that work is done — a relayed payload (which goes through the same queue as those device
// lists) acknowledged at once — before measuring anything else.
let settleStart = now()
while true {
    let start = now()
    let probe = RelaySend(to: ids[1]!, payload: withUnsafeBytes(of: UInt64.max.bigEndian) { Array($0) })
    guard (try? await connections[0]!.request(.relaySend(probe), timeout: .seconds(120))) != nil else {
        throw ChannelFailure("the server acknowledged no relay for 120 s after the reconnects")
    }
    if now() - start < 0.005 { break }
}
let settled = now() - settleStart
say("after the reconnects the server relayed at once again within \(String(format: "%.1f", settled)) s")
var pings: [Double] = []
for _ in 0..<2000 {
    let start = now()
    _ = try await connections[0]!.request(.ping(.init(nonce: 1)))
    pings.append(now() - start)
}

/// Sends `count` relayed payloads between device pairs of the same account, `rate` per second
/// (0 = as fast as a window of 64 allows), and returns latencies and the achieved rate.
// One reader per receiving session for the whole run: cancelling the iteration of an
// AsyncStream ends the stream for good.
for p in 0..<pairs {
    let receiver = connections[p * devicesPerAccount + 1]!
    Task {
        for await envelope in receiver.unsolicited {
            guard case .relayDeliver(let d) = envelope.message else { continue }
            try? await receiver.send(.relayAck(.init(relayID: d.relayID)))
        }
    }
}

/// CPU seconds this process has used (user + system).
func ownCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

struct RelayRun {
    var latencies: [Double]
    var perSecond: Double
    /// Requests that got no answer (or not an Ack) in 15 s, and payloads never delivered.
    var unanswered: Int
    var undelivered: Int
    /// Share of one core each process used during the run.
    var serverCPU: Double
    var clientCPU: Double
}

func relay(count: Int, rate: Double, pairs: Int) async throws -> RelayRun {
    stamps.reset()
    let unanswered = NIOLockedValueBox(0)
    let (serverStart, clientStart) = (server.cpuSeconds, ownCPUSeconds())
    let senders = (0..<pairs).map { p in connections[p * devicesPerAccount]! }
    let start = now()
    let interval = rate > 0 ? 1 / rate : 0
    _ = try await inParallel(count, width: rate > 0 ? 256 : 64) { i in
        if interval > 0 {
            let due = start + Double(i) * interval
            let wait = due - now()
            if wait > 0 { try await Task.sleep(for: .microseconds(Int(wait * 1_000_000))) }
        }
        var payload = withUnsafeBytes(of: UInt64(i).bigEndian) { Array($0) }
        payload += [UInt8](repeating: 0xab, count: 112)
        let pair = i % pairs
        stamps.sent(i, at: now())
        let answer = try? await senders[pair].request(.relaySend(.init(to: ids[pair * devicesPerAccount + 1]!, payload: payload)))
        if answer?.message != .ack(.init()) { unanswered.withLockedValue { $0 += 1 } }
    }
    let lost = unanswered.withLockedValue { $0 }
    let patience = now() + 30
    while stamps.arrivedCount < count - lost && now() < patience { try await Task.sleep(for: .milliseconds(1)) }
    let elapsed = now() - start
    return RelayRun(latencies: stamps.latencies(), perSecond: Double(stamps.arrivedCount) / elapsed, unanswered: lost,
                    undelivered: count - stamps.arrivedCount, serverCPU: (server.cpuSeconds - serverStart) / elapsed,
                    clientCPU: (ownCPUSeconds() - clientStart) / elapsed)
}

say("ping: p50 \(millis(percentile(pings, 0.5)))")
// From here on every session pings as an agent does (ServerConnection.keepalive), spread evenly:
// the relay is measured among thousands of keepalive frames a second.
let keepaliveSeconds = 5.0
let keepalive = keepAlive(Array(connections.values), every: keepaliveSeconds)
let paced = try await relay(count: 5000, rate: 1000, pairs: pairs)
say("relay at 1000/s: p99 \(millis(percentile(paced.latencies, 0.99)))")
let burst = try await relay(count: 10000, rate: 0, pairs: pairs)
keepalive.cancel()
let rssEnd = server.residentMiB
server.stop()

// MARK: - Report

func row(_ what: String, _ value: String, _ aim: String, _ ratio: String) {
    print(what.padding(toLength: 48, withPad: " ", startingAt: 0) + " " + value.padding(toLength: 24, withPad: " ", startingAt: 0)
          + " " + aim.padding(toLength: 28, withPad: " ", startingAt: 0) + " " + ratio)
}
print("")
print("kith server load, one load process and the server (loopback, release build)")
print("server run with \(ServerProcess.admission.joined(separator: " ")) --keepalive-timeout 3600 (so that setup phases drop no session)")
print("keepalive: every session sends a Ping every \(Int(keepaliveSeconds)) s (the agent's interval) during the relay runs: "
      + "\(Int(Double(held) / keepaliveSeconds)) frames/s")
print("store: SQLite, WAL, synchronous=FULL (the shipped setting: every acknowledged relay is fsynced)")
print(ProcessInfo.processInfo.environment["KITH_BENCH_SERVER_CPU"].map { "server pinned to CPU \($0), load client apart (taskset)" }
      ?? "server and load client not pinned: they share the cores")
row("measure", "reached", "aim / floor", "ratio")
row("concurrent sessions held", "\(held)", "20000 (fd limit 20000)", String(format: "%.2f of aim", Double(held) / 20000))
row("server RSS with them", String(format: "%.0f MiB", rssHeld), "< 1024 MiB", String(format: "%.2f of aim", rssHeld / 1024))
row("server RSS after reconnect + relay", String(format: "%.0f MiB", max(rssAfterReconnect, rssEnd)), "< 1024 MiB",
    String(format: "%.2f of aim", max(rssAfterReconnect, rssEnd) / 1024))
row("token reconnects (TCP + Noise IK + Resume)", String(format: "%.0f /s", reconnectsPerSecond), "2000 /s",
    String(format: "%.2f of aim", reconnectsPerSecond / 2000))
row("token reconnects: CPU server / load client", String(format: "%.0f%% / %.0f%% of a core", reconnectCPU.0 * 100, reconnectCPU.1 * 100),
    "", "")
row("until a relay is acknowledged at once after them", String(format: "%.1f s", settled), "", "")
row("password logins", String(format: "%.1f /s", passwordLoginsPerSecond), "\(PasswordHash.Cost.interactive)", "")
row("relay at 1000 msg/s: p50", millis(percentile(paced.latencies, 0.5)), "floor: ping p50 " + millis(percentile(pings, 0.5)),
    String(format: "%.1f× ping", percentile(paced.latencies, 0.5) / percentile(pings, 0.5)))
row("relay at 1000 msg/s: p99", millis(percentile(paced.latencies, 0.99)), "< 2 ms",
    String(format: "%.2f of aim", percentile(paced.latencies, 0.99) / 0.002))
row("relay, as fast as it goes (64 in flight)", String(format: "%.0f msg/s", burst.perSecond), "", "")
for (name, run) in [("at 1000 msg/s", paced), ("as fast as it goes", burst)] {
    row("relay \(name): CPU server / load client", String(format: "%.0f%% / %.0f%% of a core", run.serverCPU * 100, run.clientCPU * 100), "", "")
    if run.unanswered + run.undelivered > 0 {
        row("relay \(name): unanswered / undelivered", "\(run.unanswered) / \(run.undelivered)", "0 / 0", "missed")
    }
}
row("relay burst latency p50 / p99", millis(percentile(burst.latencies, 0.5)) + " / " + millis(percentile(burst.latencies, 0.99)), "", "")
row("Kith ping through the server p50 / p99", millis(percentile(pings, 0.5)) + " / " + millis(percentile(pings, 0.99)),
    "tcp p50 " + millis(percentile(floor, 0.5)), String(format: "%.1f× tcp", percentile(pings, 0.5) / percentile(floor, 0.5)))
print("(relay latency: RelaySend on one session to RelayDeliver on another, through a committed SQLite queue; "
      + "the arrival is stamped on the load client's event loop)")
exit(0)
