import Dispatch
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PostgresNIO

/// A few connections to one database for a caller that waits: the server's store interface is
/// synchronous (the SQLite store's is, and the server calls it from its committer thread, its
/// tasks and, for two reads, its event loops). Each call takes an idle connection (or opens one,
/// up to `limit`; more callers wait for one), runs its statements and gives it back. The
/// connections live on an event loop of their own, never the server's, so a caller that blocks
/// on one of the server's threads cannot stop the answer it waits for.
///
/// A connection that broke (the database restarted, the network cut it) is dropped and the next
/// call opens a new one: a call that fails on a broken connection throws, one after it works again.
final class PostgresConnections: Sendable {
    let address: PostgresAddress
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let logger: Logger
    private let idle = NIOLockedValueBox<[PostgresConnection]>([])
    private let permits: DispatchSemaphore
    private let connectionIDs = NIOLockedValueBox(0)
    /// Transactions run again since the pool was made, by the SQLSTATE of the race they lost.
    let lostRaces = NIOLockedValueBox<[String: Int]>([:])

    init(address: PostgresAddress, limit: Int, logger: Logger) {
        self.address = address
        self.logger = logger
        permits = DispatchSemaphore(value: limit)
    }

    /// Runs `body` on a connection of its own for the call's length.
    func with<T>(_ body: (PostgresStatements) throws -> T) throws -> T {
        permits.wait()
        defer { permits.signal() }
        let connection = try takeIdle() ?? open()
        do {
            let statements = PostgresStatements(connection: connection, logger: logger, lostRaces: lostRaces)
            let result = try body(statements)
            try statements.waitForSent()
            idle.withLockedValue { $0.append(connection) }
            return result
        } catch {
            if connection.isClosed || error as? PostgresStoreError == .noAnswer {
                connection.close().whenComplete { _ in }
            } else {
                idle.withLockedValue { $0.append(connection) }
            }
            throw error
        }
    }

    /// An idle connection that is still open.
    private func takeIdle() -> PostgresConnection? {
        idle.withLockedValue { idle in
            while let connection = idle.popLast() {
                if !connection.isClosed { return connection }
            }
            return nil
        }
    }

    private func open() throws -> PostgresConnection {
        do {
            return try Self.wait(connect())
        } catch {
            throw PostgresStoreError.unreachable("cannot connect to \(address): \(PostgresStoreError.describe(error))")
        }
    }

    /// A new connection of this pool's address, on its event loop (not one of the pool's idle ones).
    func connect() -> EventLoopFuture<PostgresConnection> {
        var configuration: PostgresConnection.Configuration
        switch address.endpoint {
        case .tcp(let host, let port):
            configuration = .init(host: host, port: port, username: address.user, password: address.password,
                                  database: address.database, tls: .disable)
        case .socket(let path):
            configuration = .init(unixSocketPath: path, username: address.user, password: address.password, database: address.database)
        }
        configuration.options.connectTimeout = .seconds(5)
        let id = connectionIDs.withLockedValue { $0 += 1; return $0 }
        return PostgresConnection.connect(on: eventLoop, configuration: configuration, id: id, logger: logger)
    }

    /// The loop the connections live on.
    var eventLoop: any EventLoop { group.next() }

    func close() {
        let connections = idle.withLockedValue { idle in defer { idle = [] }; return idle }
        for connection in connections { _ = try? Self.wait(connection.close()) }
        try? group.syncShutdownGracefully()
    }

    /// How long a statement may take before its connection is given up (`PostgresStoreError.noAnswer`).
    static let statementTimeout: DispatchTimeInterval = .seconds(5)

    /// Waits for `future` without `EventLoopFuture.wait`, which refuses to run on any event loop:
    /// the future completes on this pool's own loop, so waiting on another is safe. A database
    /// that does not answer within `statementTimeout` (seen when it restarted under a connection
    /// that had not noticed) is an error, not a wait without end.
    static func wait<T: Sendable>(_ future: EventLoopFuture<T>) throws -> T {
        let done = DispatchSemaphore(value: 0)
        let result = NIOLockedValueBox<Result<T, any Error>?>(nil)
        future.whenComplete { outcome in
            result.withLockedValue { $0 = outcome }
            done.signal()
        }
        guard done.wait(timeout: .now() + statementTimeout) == .success else { throw PostgresStoreError.noAnswer }
        return try result.withLockedValue { $0! }.get()
    }
}

/// The statements of one call on one connection. A statement is either waited for (`execute`,
/// `rows`) or only sent (`send`): the connection runs what was sent one statement after another
/// without coming back to this thread in between, and the next wait waits for all of it. A wait
/// costs a wake-up of the calling thread on top of the statements' round trips to the database
/// (postgres-nio sends a statement once the one before it is answered), so the statements
/// themselves are the larger cost: a busy caller sends fewer (see `relay_commit_prepare`).
final class PostgresStatements {
    let connection: PostgresConnection
    let logger: Logger
    let lostRaces: NIOLockedValueBox<[String: Int]>
    /// Sent and not yet waited for, in the order sent.
    private var sent: [EventLoopFuture<PostgresQueryResult>] = []

    init(connection: PostgresConnection, logger: Logger, lostRaces: NIOLockedValueBox<[String: Int]>) {
        self.connection = connection
        self.logger = logger
        self.lostRaces = lostRaces
    }

    /// Sends a statement without waiting for it: its failure is thrown by the next wait (and
    /// fails what was sent after it in the same transaction).
    func send(_ query: PostgresQuery) {
        sent.append(connection.query(query, logger: logger))
    }

    /// Runs a statement; the number of rows it changed (or returned).
    @discardableResult
    func execute(_ query: PostgresQuery) throws -> Int {
        try result(of: query).metadata.rows ?? 0
    }

    func rows(_ query: PostgresQuery) throws -> [PostgresRow] {
        Array(try result(of: query))
    }

    /// The rows of two statements, sent together: one wait for both.
    func rows(_ first: PostgresQuery, _ second: PostgresQuery) throws -> ([PostgresRow], [PostgresRow]) {
        let earlier = connection.query(first, logger: logger)
        sent.append(earlier)
        let later = try rows(second)
        return (Array(try PostgresConnections.wait(earlier)), later)
    }

    /// The first column of the first row, if there is a row.
    func value<T: PostgresDecodable>(_ query: PostgresQuery, as type: T.Type) throws -> T? {
        try rows(query).first.map { try $0.decode(T.self) }
    }

    /// Waits for what was sent; the first failure among it is thrown.
    func waitForSent() throws {
        guard let last = sent.last else { return }
        _ = try waitForSent(then: last)
    }

    /// `query`'s answer, after everything sent before it: one wait for all of them. Of several
    /// failures the first is thrown (in a transaction, the ones after it only say it is aborted).
    private func result(of query: PostgresQuery) throws -> PostgresQueryResult {
        let future = connection.query(query, logger: logger)
        guard !sent.isEmpty else { return try PostgresConnections.wait(future) }
        return try waitForSent(then: future)
    }

    private func waitForSent(then last: EventLoopFuture<PostgresQueryResult>) throws -> PostgresQueryResult {
        var futures = sent
        sent = []
        if futures.last !== last { futures.append(last) }
        let results = try PostgresConnections.wait(EventLoopFuture.whenAllComplete(futures, on: connection.eventLoop))
        for result in results { if case .failure(let error) = result { throw error } }
        return try results.last!.get()
    }

    /// Runs `body` in a transaction: committed if it returns, rolled back if it throws. A
    /// transaction that lost a race with another (a serialization failure, a deadlock, or a
    /// unique key another took first) runs again, a few times: every writer here reads what it
    /// depends on first, so the second run sees the winner's row and answers from it.
    func transaction<T>(_ body: (PostgresStatements) throws -> T) throws -> T {
        var attempt = 0
        while true {
            attempt += 1
            send("BEGIN")
            do {
                let result = try body(self)
                try execute("COMMIT")
                return result
            } catch {
                // A connection that broke or fell silent has no transaction left to roll back.
                if !connection.isClosed && error as? PostgresStoreError != .noAnswer { _ = try? execute("ROLLBACK") }
                guard attempt < 5, let state = PostgresStoreError.sqlState(of: error), Self.retried.contains(state) else { throw error }
                lostRaces.withLockedValue { $0[state, default: 0] += 1 }
            }
        }
    }

    /// serialization_failure, deadlock_detected, unique_violation.
    static let retried: Set<String> = ["40001", "40P01", "23505"]
}

/// Why a PostgreSQL store call failed, beside the `StoreError`s every store throws.
public enum PostgresStoreError: Error, Equatable, CustomStringConvertible {
    case unreachable(String)
    case schema(String)
    /// A statement had no answer in time; its connection is closed.
    case noAnswer

    public var description: String {
        switch self {
        case .unreachable(let why), .schema(let why): why
        case .noAnswer: "the database did not answer in time"
        }
    }

    /// The SQLSTATE of a server error, or nil for any other error.
    static func sqlState(of error: any Error) -> String? {
        (error as? PSQLError)?.serverInfo?[.sqlState]
    }

    /// A server error's own message (`PSQLError` prints a generic text outside debug builds).
    static func describe(_ error: any Error) -> String {
        guard let error = error as? PSQLError else { return "\(error)" }
        if let message = error.serverInfo?[.message] { return message }
        return String(reflecting: error)
    }
}
