import Foundation

/// Where a PostgreSQL database is, from a `postgresql://` URL as libpq and psql read it:
/// `postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE`, or over a Unix socket
/// `postgresql://USER@/DATABASE?host=/run/postgresql` (the folder that holds `.s.PGSQL.PORT`).
/// Only what Kith needs of that syntax; anything else is refused with a reason rather than ignored.
public struct PostgresAddress: Sendable, Equatable, CustomStringConvertible {
    public enum Endpoint: Sendable, Equatable {
        case tcp(host: String, port: Int)
        /// The socket file itself (`FOLDER/.s.PGSQL.PORT`).
        case socket(path: String)
    }

    public var endpoint: Endpoint
    public var user: String
    public var password: String?
    public var database: String

    public struct Invalid: Error, CustomStringConvertible {
        public var description: String
    }

    public init(endpoint: Endpoint, user: String, password: String? = nil, database: String) {
        self.endpoint = endpoint
        self.user = user
        self.password = password
        self.database = database
    }

    /// Whether `text` names a PostgreSQL database rather than a file.
    public static func isURL(_ text: String) -> Bool {
        text.hasPrefix("postgresql://") || text.hasPrefix("postgres://")
    }

    public init(parsing text: String) throws {
        guard Self.isURL(text), let url = URLComponents(string: text) else {
            throw Invalid(description: "not a postgresql://USER@HOST[:PORT]/DATABASE URL: \(text)")
        }
        guard let user = url.user, !user.isEmpty else {
            throw Invalid(description: "the URL names no user (postgresql://USER@HOST/DATABASE)")
        }
        let database = String(url.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, !database.contains("/") else {
            throw Invalid(description: "the URL names no database (postgresql://USER@HOST/DATABASE)")
        }
        var socketFolder: String?
        for item in url.queryItems ?? [] {
            guard item.name == "host", let value = item.value, value.hasPrefix("/") else {
                throw Invalid(description: "unknown URL parameter \(item.name) (only host=/SOCKET/FOLDER is read)")
            }
            socketFolder = value
        }
        let port = url.port ?? 5432
        guard (1...65535).contains(port) else { throw Invalid(description: "port \(port) is not 1…65535") }
        if let socketFolder {
            endpoint = .socket(path: "\(socketFolder)/.s.PGSQL.\(port)")
        } else {
            guard let host = url.host, !host.isEmpty else {
                throw Invalid(description: "the URL names no host (or ?host=/SOCKET/FOLDER)")
            }
            endpoint = .tcp(host: host, port: port)
        }
        self.user = user
        self.password = url.password
        self.database = database
    }

    /// The address without its password, for logs and errors.
    public var description: String {
        switch endpoint {
        case .tcp(let host, let port): "postgresql://\(user)@\(host):\(port)/\(database)"
        case .socket(let path): "postgresql://\(user)@/\(database) (socket \(path))"
        }
    }
}
