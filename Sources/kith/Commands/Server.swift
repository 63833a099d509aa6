import ArgumentParser
import Foundation
import KithCore
import KithCrypto
import KithPostgres
import KithServer
import KithStore
import Logging
import NIOCore

extension Kith {
    /// The rendezvous server and its operator's commands.
    struct Server: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "server",
            abstract: "Run the rendezvous server, or manage its accounts.",
            subcommands: [Run.self, Status.self, Account.self, Install.self],
            defaultSubcommand: Run.self
        )
    }
}

/// `--data DIR` and `--store URL`, shared by every server command.
struct ServerDataOption: ParsableArguments {
    @Option(help: ArgumentHelp("The server's data directory: its key, and its SQLite store unless --store names another.",
                               valueName: "dir"))
    var data: String

    @Option(help: ArgumentHelp("Keep accounts, devices and queued messages in this PostgreSQL database instead of "
                               + "server.sqlite in --data: postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE, or "
                               + "postgresql://USER@/DATABASE?host=/SOCKET/FOLDER. The schema is created or migrated at start.",
                               valueName: "url"))
    var store: String?

    var url: URL { URL(fileURLWithPath: data) }

    func validate() throws {
        if let store {
            do { _ = try PostgresAddress(parsing: store) } catch { throw ValidationError("--store: \(error)") }
        }
    }

    /// The server's configuration for this data folder and store.
    var configuration: ServerConfiguration {
        var configuration = ServerConfiguration(dataDirectory: url)
        configuration.postgres = store.flatMap { try? PostgresAddress(parsing: $0) }
        return configuration
    }
}

extension Kith.Server {
    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "run",
            abstract: "Serve accounts, logins, the device registry and the relay.",
            discussion: """
                On first start the server makes its key and its store in --data. It prints one \
                invite, kith://HOST:PORT/#KEY: give it to `kith login` on each device; the key in \
                it is how devices know they reach this server and no other. Logs go to stderr.
                """
        )

        @OptionGroup var data: ServerDataOption

        @Option(help: ArgumentHelp("Address to listen on; port 0 picks a free one.", valueName: "host:port"))
        var listen = "127.0.0.1:7400"

        @Option(help: ArgumentHelp("The address devices reach this server at, for the invite, when it differs from --listen "
                                   + "(listening on 0.0.0.0, behind a port forward); the port defaults to the one listened on. On 0.0.0.0 "
                                   + "without it, the server prints no invite, only a warning.",
                                   valueName: "host[:port]"))
        var advertise: String?

        @Option(help: ArgumentHelp("What to log: trace, debug, info, notice, warning, error or critical.", valueName: "level"))
        var logLevel: LogLevelOption = .info

        @Flag(help: "Let clients create their own accounts with `kith signup`.")
        var openSignup = false

        @Option(help: "Seconds of silence after which a device is marked offline.")
        var keepaliveTimeout: Int64 = 15

        @Option(help: "Seconds a new connection has to log in before it is closed.")
        var loginDeadline: Int64 = 20

        @Option(help: "Connections that have not logged in yet allowed from one address; more are closed at once.")
        var waitingPerAddress = 64

        @Option(help: "Connections that have not logged in yet allowed in all; more are closed at once.")
        var waitingTotal = 4096

        @Option(help: ArgumentHelp("What may wait on the server for one device that has not taken it: payloads and bytes "
                                   + "(default 10000,256M; K, M and G are powers of 1024).", valueName: "count,size"))
        var queueForDevice = "10000,256M"

        @Option(help: ArgumentHelp("What one device may have waiting on the server for devices that have not taken it "
                                   + "(default 2000,64M).", valueName: "count,size"))
        var queueFromDevice = "2000,64M"

        @Flag(help: .hidden)
        var cheapPasswordHashes = false  // tests and benchmarks only: libsodium's minimum argon2id cost

        @Option(help: .hidden)
        var instanceReportSeconds = 5  // tests only: how often the instance reports itself for `kith server status`

        func validate() throws {
            guard (2...3600).contains(keepaliveTimeout) else { throw ValidationError("--keepalive-timeout must be 2…3600 s") }
            guard (1...600).contains(loginDeadline) else { throw ValidationError("--login-deadline must be 1…600 s") }
            guard waitingPerAddress >= 1, waitingTotal >= waitingPerAddress else {
                throw ValidationError("--waiting-per-address must be at least 1, and --waiting-total at least as many")
            }
            _ = try Self.usage(queueForDevice, "--queue-for-device")
            _ = try Self.usage(queueFromDevice, "--queue-from-device")
        }

        /// `COUNT,SIZE` (`10000,256M`) as a quota.
        static func usage(_ text: String, _ option: String) throws -> RelayQuota.Usage {
            let parts = text.split(separator: ",").map(String.init)
            let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
            guard parts.count == 2, let count = Int(parts[0]), count > 0 else {
                throw ValidationError("\(option): COUNT,SIZE like 10000,256M, not \(text)")
            }
            let size = parts[1].uppercased()
            let bytes = size.last.flatMap { units[$0] }.map { unit in Int(size.dropLast()).map { $0 * unit } } ?? Int(size)
            guard let bytes, bytes > 0 else { throw ValidationError("\(option): COUNT,SIZE like 10000,256M, not \(text)") }
            return RelayQuota.Usage(count: count, bytes: bytes)
        }

        func run() async throws {
            let address: HostPort
            do { address = try HostPort(parsing: listen, allowPortZero: true) } catch { throw ValidationError("\(error)") }
            try FileManager.default.createDirectory(at: data.url, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let lockFile = data.url.appendingPathComponent("server.lock")
            guard let lock = ProcessLock(lockFile) else {
                throw fail("another kith server is running on \(data.url.path)\(ProcessLock.holder(lockFile).map { " (pid \($0))" } ?? ""); "
                           + "two servers on one data folder would corrupt it")
            }
            defer { withExtendedLifetime(lock) {} }
            var configuration = data.configuration
            configuration.host = address.host
            configuration.port = address.port
            configuration.openSignup = openSignup
            configuration.keepaliveTimeout = .seconds(keepaliveTimeout)
            configuration.loginDeadlineSeconds = loginDeadline
            configuration.waitingPerAddress = waitingPerAddress
            configuration.waitingTotal = waitingTotal
            configuration.relayQuota = RelayQuota(perReceiver: try Self.usage(queueForDevice, "--queue-for-device"),
                                                  perSender: try Self.usage(queueFromDevice, "--queue-from-device"))
            if cheapPasswordHashes { configuration.passwordCost = .minimum }
            configuration.instanceReportInterval = .seconds(Int64(max(1, instanceReportSeconds)))
            configuration.advertise = try advertise.map { text in
                do { return try HostPort(parsing: text.contains(":") ? text : "\(text):0", allowPortZero: true) } catch {
                    throw ValidationError("--advertise: \(error)")
                }
            }
            var logger = Logger(label: "kith.server") { StreamLogHandler.standardError(label: $0) }
            logger.logLevel = logLevel.level
            let server = try RendezvousServer(configuration: configuration, logger: logger)
            let stopLogger = logger
            StopSignals.install { signal in
                let logger = stopLogger
                logger.notice("stopping on \(signal)")
                await server.stop()
                logger.notice("stopped: store closed")
            }
            let chosen = configuration
            try await server.run { bound in
                Console.line("kith server \(KithVersion.software) listening on \(bound.host):\(bound.port)")
                Console.line("server key \(bound.key.fingerprint)")
                // No invite that names 0.0.0.0, which no device can reach: a warning, and what to do.
                guard let reachable = chosen.reachable(boundPort: bound.port) else {
                    let key = bound.key.rawValue.hexString
                    FileHandle.standardError.write(Data("""
                        warning: listening on every interface, so there is no address to put in the invite; give the \
                        address devices reach this server at with --advertise HOST[:PORT]

                        """.utf8))
                    return Console.line("no invite: listening on every interface; restart with --advertise HOST "
                                        + "(the invite is then kith://HOST:\(bound.port)/#\(key))")
                }
                Console.line("invite: \(Invite(addresses: [reachable], key: bound.key))")
            }
        }
    }

    struct Account: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "account",
            abstract: "Manage accounts on this server's machine.",
            subcommands: [Add.self, List.self, Passwd.self, Remove.self, RevokeWatchers.self]
        )
    }
}

extension Kith.Server.Account {
    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add",
            abstract: "Create an account.",
            discussion: """
                The password comes from --password-file, else from standard input when it is not \
                a terminal, else from a prompt that does not echo. It is never taken from the \
                command line, and only its argon2id hash is stored.
                """
        )

        @OptionGroup var data: ServerDataOption

        @Argument(help: "The account name: a-z, 0-9, '.', '_'.")
        var name: String

        @Option(help: ArgumentHelp("Read the password from the first line of this file.", valueName: "file"))
        var passwordFile: String?
        @OptionGroup var output: JSONOption

        func run() throws {
            if let problem = AccountRules.problem(withName: name) { throw ValidationError(problem) }
            let password = try readNewPassword(file: passwordFile, for: name)
            try FileManager.default.createDirectory(at: data.url, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
            let store = try data.store()
            do {
                try store.createAccount(name: name, passwordHash: try PasswordHash.hash(password),
                                        now: UInt64(Date().timeIntervalSince1970 * 1000))
            } catch StoreError.conflict {
                throw UserError("the account \(name) exists already")
            }
            output.output(ServiceResult(done: "created", account: name)) { Console.line("created account \(name)") }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List the accounts, with when each was made and its devices.")
        @OptionGroup var data: ServerDataOption
        @OptionGroup var output: JSONOption

        struct Entry: Encodable { var account: String, createdAtMillis: UInt64, devices: Int }

        func run() throws {
            let accounts = try data.store(mustExist: true).accountSummaries()
            if output.json {
                return output.output(accounts.map { Entry(account: $0.name, createdAtMillis: $0.createdAtMillis, devices: $0.devices) }) {}
            }
            if accounts.isEmpty { return Console.line("no accounts yet; make one with `kith server account add NAME --data \(data.data)`") }
            Console.table([["ACCOUNT", "CREATED", "DEVICES"]] + accounts.map {
                [$0.name, ago($0.createdAtMillis), String($0.devices)]
            })
        }
    }

    struct Passwd: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "passwd",
            abstract: "Change an account's password.",
            discussion: "Devices that are logged in stay logged in (they hold tokens, not the password); new logins need the new one.")
        @OptionGroup var data: ServerDataOption
        @Argument(help: "The account.") var name: String
        @Option(help: ArgumentHelp("Read the password from the first line of this file.", valueName: "file"))
        var passwordFile: String?
        @OptionGroup var output: JSONOption

        func run() throws {
            let store = try data.store(mustExist: true)
            guard try store.accountSummaries().contains(where: { $0.name == name }) else { throw UserError("there is no account \(name)") }
            try store.setPasswordHash(account: name, try PasswordHash.hash(try readNewPassword(file: passwordFile, for: name)))
            output.output(ServiceResult(done: "changed", account: name)) { Console.line("changed the password of \(name)") }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "remove",
            abstract: "Delete an account and everything of it on this server.",
            discussion: """
                Its devices, their sessions and queued messages, its contacts and its rosters go; its \
                devices can no longer log in or resume. Asks first on a terminal; --yes for scripts.
                """)
        @OptionGroup var data: ServerDataOption
        @Argument(help: "The account.") var name: String
        @Flag(help: "Do not ask.") var yes = false
        @OptionGroup var output: JSONOption

        func run() throws {
            let store = try data.store(mustExist: true)
            guard let account = try store.accountSummaries().first(where: { $0.name == name }) else {
                throw UserError("there is no account \(name)")
            }
            if !yes {
                guard isatty(STDIN_FILENO) == 1 else { throw UserError("removing \(name) needs --yes when not asked on a terminal") }
                Console.line("Delete \(name) and its \(account.devices) device(s) for good? [y/N] ", terminator: "")
                guard let answer = readLine(), ["y", "yes"].contains(answer.lowercased()) else { throw UserError("nothing was removed") }
            }
            try store.removeAccount(name)
            output.output(ServiceResult(done: "removed", account: name, count: account.devices)) {
                Console.line("removed \(name) and its \(account.devices) device(s)")
            }
        }
    }
}

extension Kith.Server.Account {
    struct RevokeWatchers: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "revoke-watchers",
            abstract: "End every watch session of an account (its watchers sign in again with the password).",
            discussion: "Devices are not affected. Works while the server runs: a revoked token is refused at its next request.")
        @OptionGroup var data: ServerDataOption
        @Argument(help: "The account.") var name: String
        @OptionGroup var output: JSONOption

        func run() throws {
            let store = try data.store(mustExist: true)
            guard try store.accountSummaries().contains(where: { $0.name == name }) else { throw UserError("there is no account \(name)") }
            let revoked = try store.revokeWatchSessions(account: name)
            guard revoked > 0 else { throw UserError("\(name) has no live watch session: nothing revoked") }
            output.output(ServiceResult(done: "revoked", account: name, count: revoked)) {
                Console.line("revoked \(revoked) watch session(s) of \(name)")
            }
        }
    }
}

extension Kith.Server {
    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "status",
            abstract: "List the server instances running on this store, with the device sessions each holds.",
            discussion: """
                Each running instance reports itself in the store every 5 seconds, with the address \
                devices reach it at (--advertise, or --listen); one not heard from within --within \
                seconds (killed, cut off from the database, stopped) is left out. On SQLite there is \
                one instance at most; several share a PostgreSQL store (--store). Without --json it \
                also prints an invite naming every instance listed, for devices to fail over between them.
                """)
        @OptionGroup var data: ServerDataOption
        @Option(help: ArgumentHelp("Seconds within which an instance must have reported to count as running.", valueName: "seconds"))
        var within = 15
        @OptionGroup var output: JSONOption

        func validate() throws {
            guard within >= 1 else { throw ValidationError("--within must be at least 1 second") }
        }

        func run() throws {
            let now = UInt64(Date().timeIntervalSince1970 * 1000)
            let instances = try data.store(mustExist: true).instances(seenSince: now - UInt64(within) * 1000)
            if output.json { return output.output(instances) {} }
            if instances.isEmpty { return Console.line("no server instance has reported within \(within) s") }
            Console.table([["INSTANCE", "ADDRESS", "STARTED", "LAST REPORT", "SESSIONS"]] + instances.map {
                [$0.id, $0.address, ago($0.startedAtMillis, now: now), ago($0.seenAtMillis, now: now), String($0.sessions)]
            })
            if let invite = try invite(naming: instances) { Console.line("invite for every instance: \(invite)") }
        }

        /// An invite that names every running instance devices can reach (they share the key in
        /// --data), for devices to fail over between them; nil without a key or an address.
        private func invite(naming instances: [InstanceReport]) throws -> Invite? {
            guard FileManager.default.fileExists(atPath: data.url.appendingPathComponent("identity.seed").path) else { return nil }
            let key = try IdentityFile.loadOrCreate(in: data.url).identity.publicKey
            let addresses = ServerConfiguration.reachable(instances)
            return addresses.isEmpty ? nil : Invite(addresses: Array(addresses.prefix(Invite.maxAddresses)), key: key)
        }
    }
}

extension ServerDataOption {
    /// The server's store (in this data folder, or --store's database); with `mustExist`, an
    /// error if the data folder has no SQLite store (a database is created or migrated as the server would).
    func store(mustExist: Bool = false) throws -> any ServerStore {
        let configuration = configuration
        if mustExist && configuration.postgres == nil && !FileManager.default.fileExists(atPath: configuration.databasePath) {
            throw UserError("there is no server store in \(data)")
        }
        do {
            return try configuration.openStore(logger: Logger(label: "kith.store"))
        } catch let error as PostgresStoreError {
            throw UserError("\(error)")
        }
    }
}

extension Kith.Server {
    struct Install: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "install",
            abstract: "Install the server's systemd unit (as root).",
            discussion: """
                Writes /etc/systemd/system/kith-server.service (or prints it with --print), running this \
                binary as a dynamic user with its data in --data; then `systemctl enable --now \
                kith-server`. Under the unit the server logs to the journal; SIGTERM stops it cleanly.
                """)
        @Option(help: ArgumentHelp("The server's data directory.", valueName: "dir")) var data = "/var/lib/kith"
        @Option(help: ArgumentHelp("Address to listen on.", valueName: "host:port")) var listen = "0.0.0.0:7400"
        @Option(help: ArgumentHelp("The address devices reach, for the invite.", valueName: "host[:port]")) var advertise: String?
        @Flag(help: "Print the unit instead of writing it.") var print = false
        @OptionGroup var output: JSONOption

        func validate() throws {
            guard data.hasPrefix("/") else { throw ValidationError("--data must be an absolute path") }
            do { _ = try HostPort(parsing: listen) } catch { throw ValidationError("--listen: \(error)") }
        }

        func run() throws {
            let unit = SystemdUnits.server(executable: SystemdUnits.executable, data: data, listen: listen, advertise: advertise)
            if print { return Console.line(unit, terminator: "") }
            let file = URL(fileURLWithPath: "/etc/systemd/system/kith-server.service")
            do { try Data(unit.utf8).write(to: file) } catch {
                throw UserError("cannot write \(file.path) (\(error.localizedDescription)); run it as root, or use --print")
            }
            let next = "systemctl daemon-reload && systemctl enable --now kith-server"
            output.output(ServiceResult(done: "installed", files: [file.path], next: next)) {
                Console.line("wrote \(file.path)")
                Console.line("now: \(next)")
            }
        }
    }
}
