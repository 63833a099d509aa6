import KithPostgres
import Testing

/// `--store postgresql://…` as libpq reads such URLs, and a clear refusal of what Kith does not read.
@Suite struct PostgresAddressTests {
    @Test func tcpAndSocketURLs() throws {
        #expect(try PostgresAddress(parsing: "postgresql://kith:secret@db.example:6432/kith")
                == PostgresAddress(endpoint: .tcp(host: "db.example", port: 6432), user: "kith", password: "secret", database: "kith"))
        #expect(try PostgresAddress(parsing: "postgres://kith@127.0.0.1/k")
                == PostgresAddress(endpoint: .tcp(host: "127.0.0.1", port: 5432), user: "kith", database: "k"))
        #expect(try PostgresAddress(parsing: "postgresql://kith@:5433/k?host=/run/postgresql")
                == PostgresAddress(endpoint: .socket(path: "/run/postgresql/.s.PGSQL.5433"), user: "kith", database: "k"))
    }

    @Test func thePasswordIsNeverPrinted() throws {
        let address = try PostgresAddress(parsing: "postgresql://kith:secret@db.example/kith")
        #expect(!"\(address)".contains("secret"))
    }

    @Test(arguments: [
        ("sqlite:///x", "not a postgresql://"),
        ("postgresql://db.example/kith", "names no user"),
        ("postgresql://kith@db.example/", "names no database"),
        ("postgresql://kith@db.example/a/b", "names no database"),
        ("postgresql://kith@/kith", "names no host"),
        ("postgresql://kith@db.example/kith?sslmode=require", "unknown URL parameter sslmode"),
        ("postgresql://kith@db.example/kith?host=relative", "unknown URL parameter host"),
    ])
    func whatIsNotReadIsRefusedWithAReason(url: String, reason: String) {
        #expect { _ = try PostgresAddress(parsing: url) } throws: { "\($0)".contains(reason) }
    }
}
