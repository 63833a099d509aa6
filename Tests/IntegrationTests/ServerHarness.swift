import Foundation
import KithCore
import KithCrypto
import KithNet
import KithTestSupport
import KithWire
import NIOPosix

/// A real `kith server` in a temporary data directory, with accounts made by the operator command.
final class ServerHarness: @unchecked Sendable {
    let directory: URL
    let arguments: [String]
    private(set) var process: KithProcess
    private(set) var invite: Invite
    /// The agents logged in to each account, the primary (the first) first: `AgentHarness.login`
    /// has new devices approved by it, as a user would.
    var agents: [String: [AgentHarness]] = [:]

    /// `accounts` maps names to passwords; `extra` goes on the server's command line; `store`: a
    /// `postgresql://` URL for `--store` (nil: the SQLite file in the data directory).
    static func start(accounts: [String: String] = ["alice": "correct horse", "bob": "battery staple"],
                      extra: [String] = [], store: String? = nil) async throws -> ServerHarness {
        let directory = temporaryDirectory("server")
        let storeArguments = store.map { ["--store", $0] } ?? []
        for (name, password) in accounts {
            let result = try KithProcess.run(["server", "account", "add", name, "--data", directory.path] + storeArguments,
                                             stdin: password + "\n")
            guard result.status == 0 else { throw KithProcess.ProcessFailure(description: "account add: \(result.stderr)") }
        }
        let arguments = ["server", "--data", directory.path, "--listen", "127.0.0.1:0", "--cheap-password-hashes"] + storeArguments + extra
        let (process, invite) = try await launch(arguments, in: directory)
        return ServerHarness(directory: directory, arguments: arguments, process: process, invite: invite)
    }

    /// Another instance of this server on the same `--store` (a PostgreSQL database): the same
    /// key (the identity file copied into a data folder of its own), another port.
    func anotherInstance() async throws -> ServerHarness {
        let other = temporaryDirectory("server")
        try FileManager.default.copyItem(at: directory.appendingPathComponent("identity.seed"),
                                         to: other.appendingPathComponent("identity.seed"))
        let arguments = arguments.map { $0 == directory.path ? other.path : $0 }
        let (process, invite) = try await Self.launch(arguments, in: other)
        return ServerHarness(directory: other, arguments: arguments, process: process, invite: invite)
    }

    private init(directory: URL, arguments: [String], process: KithProcess, invite: Invite) {
        self.directory = directory
        self.arguments = arguments
        self.process = process
        self.invite = invite
    }

    private static func launch(_ arguments: [String], in directory: URL) async throws -> (KithProcess, Invite) {
        let process = try KithProcess(arguments, in: directory, name: "server-\(UUID().uuidString.prefix(4))")
        let invite = try Invite(parsing: try await process.waitForLine(startingWith: "invite: "))
        return (process, invite)
    }

    /// Kills the server (SIGKILL) and starts it again on the same data directory and port.
    func restart() async throws {
        stop()
        try await startAgain()
    }

    /// SIGKILL, leaving the data directory as it is.
    func stop() { process.kill() }

    /// Starts the server again on the same data directory and port.
    func startAgain() async throws {
        let pinned = arguments.map { $0 == "127.0.0.1:0" ? "127.0.0.1:\(invite.port)" : $0 }
        (process, invite) = try await Self.launch(pinned, in: directory)
    }

    var log: String { process.stderr }

    /// The `--store` it runs on, if not its data folder's SQLite file.
    var store: String? { arguments.firstIndex(of: "--store").map { arguments[$0 + 1] } }

    deinit { process.kill() }
}

/// A device as the server sees it: an identity and one connection, driven by hand.
struct TestDevice: Sendable {
    let identity = DeviceIdentity.generate()
    var keys: KeyPair { identity.noiseKeyPair }

    /// `from`: the source address on loopback (127.0.0.2 plays another machine).
    func connect(_ server: ServerHarness, from source: String? = nil) async throws -> ClientConnection {
        try await ClientConnection.connect(host: server.invite.host, port: server.invite.port,
                                           remoteStatic: server.invite.key.noisePublicKey!, localStatic: keys,
                                           group: MultiThreadedEventLoopGroup.singleton, from: source)
    }

    func login(_ connection: ClientConnection, account: String, password: String, type: TerminalType = .pc,
               name: String = "test device") async throws -> Message {
        try await connection.request(.login(.init(
            account: account, password: password, terminalType: type, deviceName: name,
            clientVersion: KithVersion.userAgent, deviceKey: identity.publicKey.rawValue, addresses: [])))
        .message
    }
}

extension ClientConnection {
    /// The next unsolicited message that `match` accepts, skipping others.
    /// The timeout is for liveness, not speed: a loaded CI machine may take a while.
    func next<T: Sendable>(timeout: Duration = .seconds(30), line: Int = #line, _ match: @escaping @Sendable (Message) -> T?) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                for await envelope in self.unsolicited { if let value = match(envelope.message) { return value } }
                return nil
            }
            group.addTask {
                try await KithProcess.patientSleep(timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else {
                throw KithProcess.ProcessFailure(description: "no matching message within \(timeout) (asked for at line \(line))")
            }
            return value
        }
    }

    func nextDeviceList(line: Int = #line, where condition: @escaping @Sendable (DeviceList) -> Bool = { _ in true }) async throws -> DeviceList {
        try await next(line: line) { if case .deviceList(let list) = $0, condition(list) { list } else { nil } }
    }

    func nextRelay() async throws -> RelayDeliver {
        try await next { if case .relayDeliver(let deliver) = $0 { deliver } else { nil } }
    }
}

func errorCode(_ message: Message) -> ErrorCode? {
    if case .errorMessage(let error) = message { ErrorCode(rawValue: error.code) } else { nil }
}
