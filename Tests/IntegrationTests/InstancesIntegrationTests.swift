import Foundation
import KithAPI
import KithCore
import KithCrypto
import KithNet
import KithStore
import KithTestSupport
import KithWire
import Testing

/// Two `kith server` instances on one PostgreSQL database, one key: a payload relayed through one
/// reaches its receiver on the other at once (PostgreSQL's NOTIFY after the commit; the queue's
/// ids are the sequence a reader reads after), and one that missed notifications catches up.
@Suite(.serialized, .fewAtATime, .enabled(if: PostgresCluster.isInstalled, "needs PostgreSQL (/usr/lib/postgresql): run Tools/bootstrap"))
struct InstancesIntegrationTests {
    /// alice's laptop on instance one, her phone on instance two.
    struct Cast {
        let cluster: PostgresCluster
        let one: ServerHarness, two: ServerHarness
        let laptop: ClientConnection, phone: ClientConnection
        let laptopDevice: TestDevice, laptopLogin: LoginResult
        let phoneDevice: TestDevice
        let phoneLogin: LoginResult
        var phoneID: String { phoneLogin.deviceID }
    }

    static func cast() async throws -> Cast? {
        let cluster = try PostgresCluster.start()
        let one = try await ServerHarness.start(extra: ["--instance-report-seconds", "1"], store: try cluster.database())
        let two = try await one.anotherInstance()
        #expect(two.invite.key == one.invite.key && two.invite.port != one.invite.port)
        let laptopDevice = TestDevice(), phoneDevice = TestDevice()
        let laptop = try await laptopDevice.connect(one), phone = try await phoneDevice.connect(two)
        guard case .loginResult(let laptopLogin) = try await laptopDevice.login(laptop, account: "alice", password: "correct horse"),
              case .loginResult(let phoneLogin) = try await phoneDevice.login(phone, account: "alice", password: "correct horse",
                                                                             type: .mobile)
        else { Issue.record("login"); cluster.stop(); return nil }
        return Cast(cluster: cluster, one: one, two: two, laptop: laptop, phone: phone, laptopDevice: laptopDevice,
                    laptopLogin: laptopLogin, phoneDevice: phoneDevice, phoneLogin: phoneLogin)
    }

    /// Sends `payloads` from the laptop, each after the previous one's Ack.
    static func send(_ payloads: [[UInt8]], in cast: Cast) async throws {
        for payload in payloads {
            let answer = try await cast.laptop.request(.relaySend(.init(to: cast.phoneID, payload: payload)))
            #expect(answer.message == .ack(.init()))
        }
    }

    /// Takes `count` relayed payloads on the phone (or `on` another connection of it), acknowledging each.
    static func receive(_ count: Int, in cast: Cast, on connection: ClientConnection? = nil,
                        timeout: Duration = .seconds(10)) async throws -> [[UInt8]] {
        let phone = connection ?? cast.phone
        var received: [[UInt8]] = []
        for _ in 0..<count {
            let relay = try await phone.next(timeout: timeout) { if case .relayDeliver(let d) = $0 { d } else { nil } }
            received.append(relay.payload)
            try await phone.send(.relayAck(.init(relayID: relay.relayID)))
        }
        return received
    }

    @Test func aPayloadRelayedThroughOneInstanceReachesItsReceiverOnAnother() async throws {
        guard let cast = try await Self.cast() else { return }
        defer { cast.cluster.stop() }
        let payloads = (0..<50).map { [UInt8($0)] }
        let across = ContinuousClock.now
        async let received = Self.receive(50, in: cast)
        try await Self.send(payloads, in: cast)
        #expect(try await received == payloads, "all, in order, once")
        let acrossTook = ContinuousClock.now - across
        // Nothing more: none came twice.
        let extra = try? await cast.phone.next(timeout: .milliseconds(500)) { if case .relayDeliver(let d) = $0 { d } else { nil } }
        #expect(extra == nil)

        // The phone resumes with its token on instance one (the session is in the shared store);
        // the same 50 between two devices of one instance, for comparison.
        await cast.phone.close()
        let back = try await cast.phoneDevice.connect(cast.one)
        guard case .loginResult = try await back.request(.resume(.init(token: cast.phoneLogin.token))).message else {
            Issue.record("the phone's token was not taken by instance one"); return
        }
        let same = ContinuousClock.now
        async let again = Self.receive(50, in: cast, on: back)
        try await Self.send(payloads, in: cast)
        #expect(try await again == payloads)
        let sameTook = ContinuousClock.now - same
        print("instances: 50 relayed payloads (each sent after the previous Ack), receiver on the other instance \(acrossTook), "
              + "on the same instance \(sameTook) (debug build)")
    }

    /// The checks of a shared store's relays are read in batches, off the event loop
    /// (`BatchedRelayChecks`): a device the account's roster does not approve is refused there
    /// too, however many of its payloads wait together, and the primary's are taken.
    @Test func aPendingDevicesPayloadsAreRefusedOnAnotherInstance() async throws {
        guard let cast = try await Self.cast() else { return }
        defer { cast.cluster.stop() }
        let laptopID = cast.laptopLogin.deviceID
        let me = RosterMember(deviceID: laptopID, key: cast.laptopDevice.identity.publicKey, role: .primary, name: "laptop")
        let first = try RosterSigning.sign(Roster.first(account: "alice", primary: me, recoveryKey: RecoveryKey.generate().publicKey,
                                                        issuedAtMillis: 1), signer: laptopID, with: cast.laptopDevice.identity)
        #expect(try await cast.laptop.request(.rosterPublish(.init(roster: first))).message == .ack(.init()))
        // The phone, on the other instance, is not in the roster: each of a burst is refused.
        let phone = cast.phone
        let answers = try await withThrowingTaskGroup(of: ErrorCode?.self) { group in
            for number in 0..<20 {
                group.addTask { errorCode(try await phone.request(.relaySend(.init(to: laptopID, payload: [UInt8(number)]))).message) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(answers == Array(repeating: .notApproved, count: 20))
        // The primary's payload to the phone is taken and arrives.
        #expect(try await cast.laptop.request(.relaySend(.init(to: cast.phoneID, payload: [42]))).message == .ack(.init()))
        #expect(try await Self.receive(1, in: cast) == [[42]])
    }

    /// Two senders at once, one on each instance, to the phone on instance two, every tenth
    /// payload too large for a notice: the phone's instance writes what follows on from the
    /// notices, reads the queue for the large ones and where a notice from the other instance is
    /// still on its way — and the phone gets all 200 once, each sender's in order.
    @Test func payloadsFromBothInstancesAndTooLargeForANoticeArriveOnceInOrder() async throws {
        guard let cast = try await Self.cast() else { return }
        defer { cast.cluster.stop() }
        let tabletDevice = TestDevice()
        let tablet = try await tabletDevice.connect(cast.two)
        guard case .loginResult = try await tabletDevice.login(tablet, account: "alice", password: "correct horse") else {
            Issue.record("tablet login"); return
        }
        func payload(_ sender: UInt8, _ number: Int) -> [UInt8] {
            [sender, UInt8(number)] + [UInt8](repeating: sender, count: number % 10 == 9 ? 20_000 : 40)
        }
        func sendAll(_ sender: UInt8, from connection: ClientConnection) async throws {
            for number in 0..<100 {
                let answer = try await connection.request(.relaySend(.init(to: cast.phoneID, payload: payload(sender, number))))
                #expect(answer.message == .ack(.init()))
            }
        }
        async let received = Self.receive(200, in: cast)
        async let fromLaptop: Void = sendAll(1, from: cast.laptop)
        async let fromTablet: Void = sendAll(2, from: tablet)
        _ = try await (fromLaptop, fromTablet)
        let delivered = try await received
        for sender: UInt8 in [1, 2] {
            let mine = delivered.filter { $0.first == sender }
            #expect(mine == (0..<100).map { payload(sender, $0) }, "sender \(sender): all 100 once, in order")
        }
        let extra = try? await cast.phone.next(timeout: .milliseconds(500)) { if case .relayDeliver(let d) = $0 { d } else { nil } }
        #expect(extra == nil, "none twice")
    }

    @Test func statusListsTheRunningInstancesAndTheirSessions() async throws {
        guard let cast = try await Self.cast() else { return }
        defer { cast.cluster.stop() }
        func running() throws -> [InstanceReport] {
            let status = try KithProcess.run(["server", "status", "--data", cast.one.directory.path, "--store", cast.one.store!,
                                              "--within", "3", "--json"])
            guard status.status == 0 else { throw KithProcess.ProcessFailure(description: status.stderr) }
            return try JSONDecoder().decode([InstanceReport].self, from: Data(status.stdout.utf8))
        }
        let ports = [cast.one.invite.port, cast.two.invite.port].map { "127.0.0.1:\($0)" }.sorted()
        try await Self.eventually("both instances with a session each") {
            let instances = try running()
            return instances.map(\.address).sorted() == ports && instances.allSatisfy { $0.sessions == 1 }
        }
        cast.two.stop()
        try await Self.eventually("instance two gone from the list") {
            try running().map(\.address) == ["127.0.0.1:\(cast.one.invite.port)"]
        }
    }

    /// Real agents: alice's laptop (the primary) on instance one, her phone on instance two. The
    /// phone's login reaches the laptop as a pending device, the laptop's approval reaches the
    /// phone, each sees the other online, notes go both ways, a file goes each way through the
    /// transit (no direct path: UDP off), and the phone's end is seen.
    @Test func agentsOnTwoInstancesSeeApproveAndTalkToEachOther() async throws {
        let cluster = try PostgresCluster.start()
        defer { cluster.stop() }
        let one = try await ServerHarness.start(extra: ["--instance-report-seconds", "1"], store: try cluster.database())
        let two = try await one.anotherInstance()
        // Each instance names both in its LoginResults once it has read the other's report: the
        // agents then know both, as a transit offer from the other instance needs.
        try await Self.eventually("both instances reported") {
            let status = try KithProcess.run(["server", "status", "--data", one.directory.path, "--store", one.store!, "--json"])
            return try JSONDecoder().decode([InstanceReport].self, from: Data(status.stdout.utf8)).count == 2
        }
        try await Task.sleep(for: .seconds(1.5))  // one more report each: both directories hold both
        let root = temporaryDirectory("instances-agents")
        let laptop = AgentHarness("laptop", root: root, udp: "off"), phone = AgentHarness("phone", root: root, udp: "off")
        try await laptop.start()
        try await phone.start()
        _ = try laptop.login(one)
        let login = try phone.login(two, type: "mobile", approve: false)
        #expect(login.role == "pending")
        try await laptop.eventually("the phone, pending and online, in the laptop's list") {
            try laptop.cli(["devices"], as: DevicesResult.self).devices.contains { $0.id == login.deviceID && $0.online }
        }
        let approved = try laptop.cli(["approve", login.deviceID], as: RosterResult.self)
        try phone.waitForRoster(approved.roster ?? "")
        for agent in [laptop, phone] {
            try await agent.eventually("both devices online in \(agent.profile.lastPathComponent)'s list") {
                let devices = try agent.cli(["devices"], as: DevicesResult.self).devices
                return devices.count == 2 && devices.allSatisfy(\.online)
            }
        }
        _ = try laptop.cli(["send", login.deviceID, "across instances"], as: SendResult.self)
        try await phone.eventually("the laptop's note") { try phone.inbox().map(\.text) == ["across instances"] }
        _ = try phone.cli(["send", "alice-PC-1", "and back"], as: SendResult.self)
        try await laptop.eventually("the phone's note") { try laptop.inbox().map(\.text) == ["and back"] }

        // A transit stream's ends on two instances: the receiver joins the ticket at the sender's.
        for (sender, receiver, to) in [(laptop, phone, login.deviceID), (phone, laptop, "alice-PC-1")] {
            let name = "from-\(sender.profile.lastPathComponent).bin"
            let file = root.appendingPathComponent(name)
            try Data((0..<(3 << 20) + 77).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 7) }).write(to: file)
            let pushed = try sender.cli(["push", file.path, "--to", to, "--direct", "--detach"], as: TransferInfo.self)
            try await receiver.eventually("\(name) through the transit") {
                try receiver.cli(["transfers"], as: TransfersResult.self).transfers.first { $0.id == pushed.id }?.state == "complete"
            }
            let sent = try sender.cli(["transfers"], as: TransfersResult.self).transfers.first { $0.id == pushed.id }
            #expect(sent?.path == "relay", "the sender's record: \(String(describing: sent))")
            #expect(try Data(contentsOf: receiver.received.appendingPathComponent(name)) == Data(contentsOf: file))
        }
        phone.kill9()
        try await laptop.eventually("the phone offline in the laptop's list") {
            try laptop.cli(["devices"], as: DevicesResult.self).devices.contains { $0.id == login.deviceID && !$0.online }
        }
    }

    static func eventually(_ what: String, seconds: Double = 20, _ condition: () throws -> Bool) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if (try? condition()) == true { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        Issue.record("not within \(seconds) s: \(what)")
    }

    /// A second copy of the phone (its key and token) resumes on instance one while the phone is
    /// online on instance two: instance two tells the phone's connection `sessionReplaced` and
    /// closes it, and what is relayed next reaches only the copy (spec §Sessions, One session per device).
    @Test func aSecondCopyOnAnotherInstanceReplacesTheSession() async throws {
        guard let cast = try await Self.cast() else { return }
        defer { cast.cluster.stop() }
        // The phone's login is answered before instance two records it online; a copy that came
        // sooner than that would be the one replaced. Instance one lists it online once it is.
        _ = try await cast.laptop.nextDeviceList { $0.devices.contains { $0.deviceID == cast.phoneID && $0.online } }
        let copy = try await cast.phoneDevice.connect(cast.one)
        guard case .loginResult = try await copy.request(.resume(.init(token: cast.phoneLogin.token))).message else {
            Issue.record("the copy could not resume")
            return
        }
        let replaced = try await cast.phone.next(timeout: .seconds(20)) { message -> ErrorMessage? in
            if case .errorMessage(let error) = message, error.code == ErrorCode.sessionReplaced.rawValue { error } else { nil }
        }
        #expect(replaced.message?.contains("another instance") == true, "\(replaced)")
        try await Self.eventually("the phone's connection on instance two closed") { cast.phone.isClosed }
        try await Self.send([[7]], in: cast)
        #expect(try await Self.receive(1, in: cast, on: copy) == [[7]])
    }

    /// Guesses at alice's password spread over both instances meet one limit: five wrong on each,
    /// and the right one on instance one is then refused as over the limit of ten.
    @Test func failedLoginsOnBothInstancesMeetOneLimit() async throws {
        guard let cast = try await Self.cast() else { return }
        defer { cast.cluster.stop() }
        // Each instance took devices only once it heard the other (what the other told it before
        // then would be lost: on a loaded CI machine, instance two's guesses were once).
        for server in [cast.one, cast.two] { #expect(server.log.contains("listening to the other instances on the store")) }
        let guesser = TestDevice()
        for server in [cast.one, cast.two] {
            let connection = try await guesser.connect(server)
            for _ in 0..<5 {
                #expect(errorCode(try await guesser.login(connection, account: "alice", password: "guess guess")) == .unauthenticated)
            }
            await connection.close()
        }
        try await Task.sleep(for: .seconds(2))  // the word of instance two's checks reaches instance one
        let last = try await guesser.connect(cast.one)
        #expect(errorCode(try await guesser.login(last, account: "alice", password: "correct horse")) == .rateLimited)
    }

    @Test func anInstanceThatMissedNotificationsCatchesUp() async throws {
        guard let cast = try await Self.cast() else { return }
        defer { cast.cluster.stop() }
        try await Self.send([[1]], in: cast)
        #expect(try await Self.receive(1, in: cast) == [[1]])
        // Every LISTEN connection cut (instance two's among them): what commits until it is back
        // is not heard; on its return it reads every online receiver's queue.
        try cast.cluster.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%'")
        try await Self.send([[2], [3]], in: cast)
        #expect(try await Self.receive(2, in: cast, timeout: .seconds(20)) == [[2], [3]])
        #expect(cast.two.log.contains("listening for relays again"), "instance two said it had to catch up")
    }
}
