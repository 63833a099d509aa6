import Foundation
import KithCore
import KithCrypto
import KithPostgres
import KithStore
import Logging
import NIOCore

/// How a `kith server` runs. Defaults are the spec's (§Sessions).
public struct ServerConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 7400
    /// The address devices reach this instance at, when it is not `host` (behind a NAT, or
    /// listening on every interface); port 0 means the port bound. Invites name it, and so does
    /// the list of instances a shared store's instances give their devices.
    public var advertise: HostPort?
    /// Holds `identity.seed`, and `server.sqlite` unless `postgres` names the store.
    public var dataDirectory: URL
    /// The PostgreSQL database the server keeps its state in (`--store postgresql://…`), which
    /// several instances may share; nil: the embedded SQLite file in `dataDirectory`.
    public var postgres: PostgresAddress?
    /// Accept `Signup` from clients; otherwise only the operator creates accounts.
    public var openSignup = false
    /// A channel that carries nothing for this long is closed and its device marked offline.
    public var keepaliveTimeout: TimeAmount = .seconds(15)
    public var tokenLifetimeMillis: UInt64 = 30 * 24 * 3600 * 1000
    public var passwordCost: PasswordHash.Cost = .interactive
    /// Failed password checks allowed in a window (spec §Sessions, Login step 2).
    public var loginLimits = LoginLimits.Settings()
    /// Password checks (argon2id) run on their own threads, never on the event loop or the task
    /// pool that serve sessions; at most this many wait for one, more are answered `rateLimited`.
    public var passwordCheckThreads = max(1, System.coreCount / 2)
    public var passwordQueueLimit = 32
    /// What may wait on the server for one device and from one device (spec §Relay, Quotas).
    public var relayQuota = RelayQuota()
    /// Before login (spec §Sessions, Before login): how long a connection has to log in, and how
    /// many may wait to from one address and in all.
    public var loginDeadlineSeconds: Int64 = 20
    public var waitingPerAddress = 64
    public var waitingTotal = 4096
    /// Where devices reach this instance, once it listens on `boundPort`; nil when it listens on
    /// every interface and was given no `advertise`: no device can be told an address then.
    public func reachable(boundPort: Int) -> HostPort? {
        if let advertise { return HostPort(host: advertise.host, port: advertise.port == 0 ? boundPort : advertise.port) }
        return Self.everyInterface.contains(host) ? nil : HostPort(host: host, port: boundPort)
    }

    static let everyInterface: Set<String> = ["0.0.0.0", "::", "[::]"]

    /// The addresses of `instances` a device can be sent to, each once, in the reports' order:
    /// what a LoginResult and `kith server status`'s invite name.
    public static func reachable(_ instances: [InstanceReport]) -> [HostPort] {
        var addresses: [HostPort] = []
        for address in instances.compactMap({ try? HostPort(parsing: $0.address) })
        where !everyInterface.contains(address.host) && !addresses.contains(address) {
            addresses.append(address)
        }
        return addresses
    }

    /// How often the instance reports itself in the store (`kith server status`).
    public var instanceReportInterval: TimeAmount = .seconds(5)
    /// An instance counts as alive while its latest report is this recent: three intervals.
    var instanceLiveWithinMillis: UInt64 { 3 * UInt64(instanceReportInterval.nanoseconds / 1_000_000) }
    /// Milliseconds since the Unix epoch; injected so tests can move time.
    public var now: @Sendable () -> UInt64 = { UInt64(Date().timeIntervalSince1970 * 1000) }

    public init(dataDirectory: URL) {
        self.dataDirectory = dataDirectory
    }

    public var databasePath: String { dataDirectory.appendingPathComponent("server.sqlite").path }

    /// Which store this configuration names, for the log line at start and for errors.
    public var storeDescription: String { postgres.map { "PostgreSQL \($0)" } ?? "SQLite \(databasePath)" }

    /// Opens (creating or migrating) the store this configuration names.
    public func openStore(logger: Logger) throws -> any ServerStore {
        if let postgres { return try PostgresServerStore(address: postgres, logger: logger) }
        return try SQLiteServerStore(path: databasePath)
    }
}
