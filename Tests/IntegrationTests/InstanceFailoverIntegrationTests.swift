import Foundation
import KithAPI
import KithCore
import KithStore
import KithTestSupport
import Testing

/// Three `kith server` instances on one PostgreSQL database. A device that joined through one of
/// them with a one-address invite learns the others from its LoginResult; when its instance is
/// killed it resumes its session on another, and what was sent to it meanwhile arrives, each once.
@Suite(.serialized, .fewAtATime, .enabled(if: PostgresCluster.isInstalled, "needs PostgreSQL (/usr/lib/postgresql): run Tools/bootstrap"))
struct InstanceFailoverIntegrationTests {
    @Test func aDeviceWhoseInstanceIsKilledResumesOnAnotherAndEveryNoteArrivesOnce() async throws {
        let cluster = try PostgresCluster.start()
        defer { cluster.stop() }
        let one = try await ServerHarness.start(extra: ["--instance-report-seconds", "1"], store: try cluster.database())
        let two = try await one.anotherInstance(), three = try await one.anotherInstance()
        defer { one.stop(); three.stop() }
        let address = { (server: ServerHarness) in "127.0.0.1:\(server.invite.port)" }
        // Each instance reads who is alive after its own report (every second here): wait until
        // all three reported, then one more round, so instance two names the others at login.
        try await InstancesIntegrationTests.eventually("three instances reporting") {
            let status = try KithProcess.run(["server", "status", "--data", one.directory.path, "--store", one.store!,
                                              "--within", "3", "--json"])
            return try JSONDecoder().decode([InstanceReport].self, from: Data(status.stdout.utf8)).count == 3
        }
        try await Task.sleep(for: .seconds(2))
        // What an operator gives devices that should know every instance from the start.
        let status = try KithProcess.run(["server", "status", "--data", one.directory.path, "--store", one.store!, "--within", "3"])
        let line = status.stdout.split(separator: "\n").first { $0.hasPrefix("invite for every instance: ") }
        let every = try Invite(parsing: String(line?.dropFirst("invite for every instance: ".count) ?? ""))
        #expect(Set(every.addresses.map(\.description)) == Set([one, two, three].map(address)) && every.key == one.invite.key)

        let root = temporaryDirectory("instance-failover")
        let laptop = AgentHarness("laptop", root: root, udp: "off"), phone = AgentHarness("phone", root: root, udp: "off")
        try await laptop.start()
        try await phone.start()
        defer { _ = laptop.terminate(); _ = phone.terminate() }
        _ = try laptop.login(one)
        let login = try phone.login(two, type: "mobile", approve: false)  // the invite names instance two only
        let approved = try laptop.cli(["approve", login.deviceID], as: RosterResult.self)
        try phone.waitForRoster(approved.roster ?? "")
        let onTwo = try phone.cli(["status"], as: StatusResult.self)
        #expect(onTwo.connected && onTwo.instance == address(two))

        // 200 notes from the laptop (on a thread of their own: one CLI call each): 50, then
        // instance two killed, then 150 while the phone finds another instance.
        let send = { (range: Range<Int>) in
            Self.onThread { try range.map { try laptop.cli(["send", login.deviceID, "note \($0)"], as: SendResult.self).noteID } }
        }
        var sent = try await send(0..<50).value
        two.stop()
        let killed = ContinuousClock.now
        let sending = send(50..<200)
        try await phone.eventually("the phone on another instance", seconds: 10) {
            let status = try phone.cli(["status"], as: StatusResult.self)
            return status.connected && [address(one), address(three)].contains(status.instance ?? "")
        }
        let movedAfter = ContinuousClock.now - killed
        sent += try await sending.value
        try await phone.eventually("all 200 notes on the phone") { try phone.inbox().count >= 200 }
        let inbox = try phone.inbox()
        #expect(inbox.count == 200, "none twice")
        #expect(Set(inbox.map(\.noteID)) == Set(sent), "every note sent, each once")
        #expect(Set(inbox.map(\.text)).count == 200)
        try await laptop.eventually("the laptop's outbox empty") { try laptop.cli(["status"], as: StatusResult.self).pendingNotes == 0 }
        print("instance failover: the phone was connected to another instance \(movedAfter) after instance two was killed; "
              + "200 notes sent across the kill, \(inbox.count) received, each once")
    }

    /// Runs `work` on a thread of its own (it blocks on CLI processes), not on the test's pool.
    static func onThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) -> Task<T, any Error> {
        Task {
            try await withCheckedThrowingContinuation { continuation in
                Thread { continuation.resume(with: Result { try work() }) }.start()
            }
        }
    }
}
