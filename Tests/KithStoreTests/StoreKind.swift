import Foundation
import KithPostgres
import KithStore
import KithTestSupport
import Testing

/// The server's stores: every store test is written once and runs on each (`@Test(arguments: StoreKind.allCases)`).
/// PostgreSQL runs in this process's private cluster (`PostgresCluster`), a database per test;
/// where PostgreSQL is not installed its runs fail, saying so (Tools/bootstrap installs it).
enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite
    case postgresql

    var testDescription: String { rawValue }

    /// A new, empty store, and how to open a second one on the same file or database (what a
    /// restart, or another server instance, sees).
    func make(_ name: String) throws -> (store: any ServerStore, reopen: () throws -> any ServerStore) {
        switch self {
        case .sqlite:
            let path = temporaryDirectory(name).appendingPathComponent("server.sqlite").path
            return (try SQLiteServerStore(path: path), { try SQLiteServerStore(path: path) })
        case .postgresql:
            let address = try PostgresAddress(parsing: try PostgresCluster.shared().database())
            return (try PostgresServerStore(address: address), { try PostgresServerStore(address: address) })
        }
    }
}
