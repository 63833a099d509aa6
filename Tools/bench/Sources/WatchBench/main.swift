import BenchSupport
import Foundation
import KithCore
import KithCrypto
import KithNet
import KithWire
import NIOPosix

// What a watcher pays per refresh, against a client that fetches the whole contact list (issue
// 15): alice with CONTACTS contacts (255 by default, the most an account may have: ContactList's
// maxCount), three of them watched. One real `kith server` (release build); every byte counted is
// a TCP frame as sent: 2 bytes of length, the envelope, the 16-byte tag.
// Usage: Tools/bench/watch [CONTACTS]

let kith = CommandLine.arguments[1]
let contactCount = CommandLine.arguments.count > 2 ? Int(CommandLine.arguments[2])! : 255
let watched = ["c000", "c001", "c002"]
let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
func frameBytes(_ envelope: Envelope) -> Int { ((try? envelope.encode().count) ?? 0) + 2 + 16 }

/// Bytes of what a connection is sent unsolicited, counted as it arrives.
final class Inflow: @unchecked Sendable {
    private let lock = NSLock()
    private var counted = (frames: 0, bytes: 0)
    init(_ connection: ClientConnection) {
        Task { for await envelope in connection.unsolicited { self.add(envelope) } }
    }
    private func add(_ envelope: Envelope) { lock.withLock { counted.frames += 1; counted.bytes += frameBytes(envelope) } }
    var total: (frames: Int, bytes: Int) { lock.withLock { counted } }
    /// Waits until nothing has come for `quietMillis`.
    func settle(quietMillis: Int = 500) async throws {
        var last = total.frames
        while true {
            try await Task.sleep(for: .milliseconds(quietMillis))
            if total.frames == last { return }
            last = total.frames
        }
    }
}

struct Account {
    let device: Device
    var connection: ClientConnection
    let token: [UInt8]
}

let server = try ServerProcess(kith, ["--open-signup", "--cheap-password-hashes"])
defer { server.stop() }

func join(_ name: String) async throws -> Account {
    let device = Device(account: name)
    let connection = try await connect(server, device, group: group)
    _ = try await connection.request(.signup(.init(account: name, password: "password1")))
    let answer = try await connection.request(.login(.init(account: name, password: "password1", terminalType: .pc, deviceName: "pc",
                                                           clientVersion: "bench", deviceKey: device.identity.publicKey.rawValue,
                                                           addresses: [])))
    guard case .loginResult(let result) = answer.message else { throw ChannelFailure("login \(name): \(answer.message)") }
    return Account(device: device, connection: connection, token: result.token)
}

/// The account on a new connection (a resume), and what that connection is sent unsolicited.
func resume(_ account: Account) async throws -> (Account, Inflow) {
    var account = account
    account.connection = try await connect(server, account.device, group: group)
    let inflow = Inflow(account.connection)
    guard case .loginResult = try await account.connection.request(.resume(.init(token: account.token))).message else {
        throw ChannelFailure("resume \(account.device.account)")
    }
    return (account, inflow)
}

say("watch bench: alice and \(contactCount) contacts, \(watched.count) watched")
var alice = try await join("alice")
var contacts: [Account] = []
for i in 0..<contactCount {
    let name = String(format: "c%03d", i)
    let contact = try await join(name)
    _ = try await alice.connection.request(.contactRequest(.init(account: name)))
    _ = try await contact.connection.request(.contactAccept(.init(account: "alice")))
    contacts.append(contact)
}

// The full client: a refresh is a resume, and the server sends the contact list and every contact's devices.
var fullRefresh = 0
for _ in 0..<3 {
    let (resumed, inflow) = try await resume(alice)
    alice = resumed
    try await inflow.settle()
    fullRefresh = inflow.total.bytes + frameBytes(Envelope(.resume(.init(token: alice.token))))
}

// The watcher: a watch session subscribed to three contacts; a refresh is the subscription again.
let watcherConnection = try await ClientConnection.connect(host: server.invite.host, port: server.invite.port,
                                                           remoteStatic: server.invite.key.noisePublicKey!,
                                                           localStatic: KeyPair.generate(), group: group)
guard case .watchSession(let session) = try await watcherConnection.request(.watchLogin(.init(account: "alice", password: "password1"))).message
else { throw ChannelFailure("watch login") }
let pushes = Inflow(watcherConnection)
func watcherRefresh() async throws -> Int {
    let request = Envelope(.watchSubscribe(.init(token: session.token, contacts: watched)))
    let answer = try await watcherConnection.request(request.message)
    return frameBytes(request) + frameBytes(answer)
}
let watcherNoChange = try await watcherRefresh()

// One change among the watched: c000's device goes away.
let fullInflow = Inflow(alice.connection)
await contacts[0].connection.close()
try await pushes.settle()
let pushedChange = pushes.total.bytes
let watcherAfterChange = try await watcherRefresh()

// 100 changes among the others: 50 devices go offline and come back.
let before = (watcher: pushes.total, full: fullInflow.total)
for i in 10..<60 { await contacts[i].connection.close() }
for i in 10..<60 { contacts[i] = try await resume(contacts[i]).0 }
try await pushes.settle(quietMillis: 1000)
try await fullInflow.settle()
let unwatchedToWatcher = pushes.total.bytes - before.watcher.bytes
let unwatchedToFull = fullInflow.total.bytes - before.full.bytes

// Rows each refresh reads, from the queries it runs (Watchers.state; Presence.pushContacts):
// the watcher: its token, 3 contact rows, each watched contact's devices (1 each here), 3 reports;
// the full client: its session, its devices, every contact row, every contact's devices and roster rows.
let watcherRows = 1 + 3 + 3 + 3
let fullRows = 1 + 1 + contactCount + contactCount

func row(_ what: String, _ full: String, _ watcher: String, _ ratio: String) {
    print(what.padding(toLength: 44, withPad: " ", startingAt: 0) + full.padding(toLength: 16, withPad: " ", startingAt: 0)
          + watcher.padding(toLength: 14, withPad: " ", startingAt: 0) + ratio)
}
print("")
print("watch bench: alice with \(contactCount) contacts, \(watched.count) watched (kith \(kith))")
row("", "full list", "watcher", "full ÷ watcher (aim ≥ 400)")
row("bytes per refresh, no change", "\(fullRefresh)", "\(watcherNoChange)", String(format: "%.0f×", Double(fullRefresh) / Double(watcherNoChange)))
row("bytes per refresh, after one change", "\(fullRefresh)", "\(watcherAfterChange)",
    String(format: "%.0f×", Double(fullRefresh) / Double(watcherAfterChange)))
row("rows read per refresh", "\(fullRows)", "\(watcherRows)", String(format: "%.0f×", Double(fullRows) / Double(watcherRows)))
row("bytes pushed for the one change", "—", "\(pushedChange)", "")
row("bytes for 100 changes among unwatched", "\(unwatchedToFull)", "\(unwatchedToWatcher)", "aim: watcher 0")
exit(0)
