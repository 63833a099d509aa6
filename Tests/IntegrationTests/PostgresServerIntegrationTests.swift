import Foundation
import KithAPI
import KithTestSupport
import Testing

/// `kith server --store postgresql://…`: the same server on a PostgreSQL database (this test
/// process's private cluster, `PostgresCluster`), with real agents. What several instances on
/// one database add (issue 18) builds on this store.
@Suite(.serialized, .fewAtATime, .enabled(if: PostgresCluster.isInstalled, "needs PostgreSQL (/usr/lib/postgresql): run Tools/bootstrap"))
struct PostgresServerIntegrationTests {
    @Test func agentsWorkOnAServerWhoseStoreIsPostgreSQL() async throws {
        let database = try PostgresCluster.shared().database()
        let server = try await ServerHarness.start(store: database)
        #expect(server.log.contains("store: PostgreSQL"), "the server says which store it uses")
        let root = temporaryDirectory("postgres-agents")
        // Relay only: every note goes through the server and its store.
        let laptop = AgentHarness("laptop", root: root, udp: "off"), phone = AgentHarness("phone", root: root, udp: "off")
        try await laptop.start()
        try await phone.start()
        #expect(try laptop.login(server).deviceID == "alice-PC-1")
        #expect(try phone.login(server, type: "mobile").deviceID == "alice-MP-1")
        try await laptop.eventually("both devices online") {
            let devices = try laptop.cli(["devices"], as: DevicesResult.self).devices
            return devices.count == 2 && devices.allSatisfy(\.online)
        }
        _ = try laptop.cli(["send", "alice-MP-1", "through postgres"], as: SendResult.self)
        try await phone.eventually("the laptop's note") { try phone.inbox().map(\.text) == ["through postgres"] }

        // Queued in the database for a device that is away, delivered when it is back.
        phone.kill9()
        _ = try laptop.cli(["send", "alice-MP-1", "while you were away"], as: SendResult.self)
        try await phone.start()
        try await phone.eventually("the note from while it was away") {
            try phone.inbox().map(\.text) == ["through postgres", "while you were away"]
        }

        // The server killed: the devices, their sessions and tokens are in the database.
        try await server.restart()
        for agent in [laptop, phone] {
            try await agent.eventually("reconnected with its token") { try agent.cli(["status"], as: StatusResult.self).connected }
        }
        _ = try phone.cli(["send", "alice-PC-1", "after the restart"], as: SendResult.self)
        try await laptop.eventually("the note after the restart") { try laptop.inbox().map(\.text) == ["after the restart"] }

        // The operator's commands read the same database.
        let list = try KithProcess.run(["server", "account", "list", "--data", server.directory.path, "--store", database, "--json"])
        #expect(list.status == 0, "\(list.stderr)")
        struct Entry: Decodable, Equatable { var account: String, devices: Int }
        let accounts = try JSONDecoder().decode([Entry].self, from: Data(list.stdout.utf8))
        #expect(accounts == [Entry(account: "alice", devices: 2), Entry(account: "bob", devices: 0)])
    }

    /// The database restarted under a running server: its connections break, the next use opens
    /// new ones, and nothing a device was told was relayed is lost.
    @Test func aServerCarriesOnAfterItsDatabaseRestarts() async throws {
        let cluster = try PostgresCluster.start()
        defer { cluster.stop() }
        let server = try await ServerHarness.start(store: try cluster.database())
        let root = temporaryDirectory("postgres-restart")
        let laptop = AgentHarness("laptop", root: root, udp: "off"), phone = AgentHarness("phone", root: root, udp: "off")
        try await laptop.start()
        try await phone.start()
        _ = try laptop.login(server)
        _ = try phone.login(server, type: "mobile")
        _ = try laptop.cli(["send", "alice-MP-1", "before"], as: SendResult.self)
        try await phone.eventually("the note before the restart") { try phone.inbox().map(\.text) == ["before"] }
        try cluster.restart()
        for n in 1...5 { _ = try laptop.cli(["send", "alice-MP-1", "after \(n)"], as: SendResult.self) }
        try await phone.eventually("the notes after the database's restart", seconds: 30) {
            try phone.inbox().map(\.text) == ["before"] + (1...5).map { "after \($0)" }
        }
        #expect(try laptop.cli(["status"], as: StatusResult.self).pendingNotes == 0)
    }

    @Test func aDatabaseThatCannotBeReachedIsSaidSoAtStart() throws {
        let directory = temporaryDirectory("postgres-unreachable")
        let port = try freeLoopbackPort()  // nothing listens there
        let url = "postgresql://kith@127.0.0.1:\(port)/kith"
        let run = try KithProcess.run(["server", "--data", directory.path, "--listen", "127.0.0.1:0", "--store", url])
        #expect(run.status != 0)
        #expect(run.stderr.contains("cannot connect to postgresql://kith@127.0.0.1:\(port)/kith"), "\(run.stderr)")
        let list = try KithProcess.run(["server", "account", "list", "--data", directory.path, "--store", url])
        #expect(list.status != 0)
        #expect(list.stderr.contains("cannot connect to"), "\(list.stderr)")
        let malformed = try KithProcess.run(["server", "--data", directory.path, "--store", "postgresql://127.0.0.1/kith"])
        #expect(malformed.status != 0)
        #expect(malformed.stderr.contains("names no user"), "\(malformed.stderr)")
    }
}
