import Foundation
import KithAPI
import KithAgent
import KithCore
import KithCrypto
import KithNet
import KithStore
import KithTestSupport
import KithWire
import NIOPosix
import Testing

/// The primary device's control over the secondaries (Protocol/roster.md), with real agents and a
/// real server: approval, what a pending device gets (nothing), policies taking effect, revocation,
/// hand-over, recovery, and a server whose database was edited.
@Suite(.serialized, .fewAtATime) struct RosterIntegrationTests {
    @Test func aPendingDeviceGetsNothingUntilThePrimaryApprovesIt() async throws {
        let (server, primary, root) = try await Self.primary("roster-pending")
        let desk = try await Self.agent("desk", root: root)
        let login = try desk.login(server, name: "desk", approve: false)
        #expect(login.role == "pending")
        #expect(login.recoveryKey == nil)

        // The primary lists it, with the fingerprint the new device shows for itself.
        let own = try desk.cli(["status"], as: StatusResult.self)
        try await primary.eventually("the new device to be pending") {
            try primary.cli(["devices", "--pending"], as: [PendingEntry].self).map(\.id) == ["alice-PC-2"]
        }
        #expect(try primary.cli(["devices", "--pending"], as: [PendingEntry].self).first?.fingerprint == own.fingerprint)

        // Nothing goes either way: notes, pushes, direct paths. The pending device's own note waits
        // in its outbox for its approval.
        #expect(throws: AgentHarness.CLIFailure.self) { _ = try primary.cli(["send", "alice-PC-2", "hi"], as: SendResult.self) }
        let waiting = try desk.cli(["send", "alice-PC-1", "sent while pending"], as: SendResult.self)
        #expect(!waiting.relayed && waiting.waiting?.contains("not approved yet") == true)
        let file = try FileTransferIntegrationTests.randomFile(root.appendingPathComponent("f.bin"), bytes: 1000)
        #expect(throws: AgentHarness.CLIFailure.self) { _ = try FileTransferIntegrationTests.push(primary, [file.path], to: "alice-PC-2") }
        // A stream with the pending device's key to the primary's transfer port is refused at the handshake.
        #expect(try await Self.streamIsRefused(to: primary, from: desk))
        let view = try primary.cli(["devices"], as: DevicesResult.self).devices.first { $0.id == "alice-PC-2" }
        #expect(view?.path == "relay")

        // Approved: it takes the roster, and notes flow.
        let approved = try primary.cli(["approve", "alice-PC-2"], as: RosterResult.self)
        #expect(approved.members.map(\.id).sorted() == ["alice-PC-1", "alice-PC-2"])
        try desk.waitForRoster(approved.roster ?? "")
        let status = try desk.cli(["status"], as: StatusResult.self)
        #expect(status.role == "secondary")
        _ = try desk.cli(["send", "alice-PC-1", "approved now"], as: SendResult.self)
        #expect(try await !Self.streamIsRefused(to: primary, from: desk), "an approved sibling's offer gets an answer")
        try await primary.eventually("the note from the approved device") { try primary.inbox().contains { $0.text == "approved now" } }
        try await primary.eventually("the note sent while pending") { try primary.inbox().contains { $0.text == "sent while pending" } }
        try await Task.sleep(for: .milliseconds(500))
        #expect(try primary.inbox().filter { $0.text == "sent while pending" }.count == 1, "once, not again")
        withExtendedLifetime(server) {}
    }

    @Test func autoApprovalAdmitsNewDevicesForAWhileAndDenyCutsOneOff() async throws {
        let (server, primary, root) = try await Self.primary("roster-auto")
        _ = try primary.cli(["approve", "--auto", "10m"], as: RosterResult.self)
        let tv = try await Self.agent("tv", root: root)
        _ = try tv.login(server, type: "tv", approve: false)
        try await tv.eventually("the tv to be approved without a prompt") { try tv.cli(["status"], as: StatusResult.self).role == "secondary" }
        _ = try primary.cli(["approve", "--auto", "off"], as: RosterResult.self)

        let stranger = try await Self.agent("stranger", root: root)
        _ = try stranger.login(server, approve: false)
        try await primary.eventually("the stranger to be pending") { !(try primary.cli(["devices", "--pending"], as: [PendingEntry].self).isEmpty) }
        _ = try primary.cli(["deny", "alice-PC-2"], as: RosterResult.self)
        try await stranger.eventually("the stranger to lose its session") {
            try stranger.cli(["status"], as: StatusResult.self).deviceID == nil
        }
        #expect(throws: AgentHarness.CLIFailure.self) { _ = try stranger.login(server, approve: false) }
        #expect(try primary.cli(["devices", "--pending"], as: [PendingEntry].self).isEmpty)
        withExtendedLifetime(server) {}
    }

    @Test func aPolicyChangeTakesEffectWithinASecond() async throws {
        let (server, laptop, phone, root) = try await FileTransferIntegrationTests.pair("roster-policy")
        let file = try FileTransferIntegrationTests.randomFile(root.appendingPathComponent("a.bin"), bytes: 50_000)
        let first = try FileTransferIntegrationTests.push(laptop, [file.path], to: "alice-MP-1", "--direct")
        #expect(first.state == "complete")

        let set = try laptop.cli(["policy", "set", "alice-MP-1", "receive=reject", "push=none", "messages=silent"], as: PolicyResult.self)
        #expect(set.policies.first?.version == 1)
        let start = Date()
        try await phone.eventually("the phone to take policy 1", seconds: 5) {
            try phone.cli(["policy", "show"], as: PolicyResult.self).policies.first?.version == 1
        }
        let took = Date().timeIntervalSince(start)
        #expect(took < 1.0, "the phone took \(took) s to take the policy")
        #expect(try phone.cli(["policy", "show"], as: PolicyResult.self).policies.first?.settings.contains("receive=reject") == true)

        // The phone refuses the next push itself, and may no longer push.
        let refused = try KithProcess.run(["push", file.path, "--to", "alice-MP-1", "--direct", "--profile", laptop.profile.path])
        #expect(refused.status != 0)
        #expect((refused.stdout + refused.stderr).contains("does not accept files from alice-PC-1"), "\(refused.stdout) \(refused.stderr)")
        #expect(throws: AgentHarness.CLIFailure.self) { _ = try FileTransferIntegrationTests.push(phone, [file.path], to: "alice-PC-1") }

        // Only the primary sets policies.
        #expect(throws: AgentHarness.CLIFailure.self) { _ = try phone.cli(["policy", "set", "alice-MP-1", "receive=direct"], as: PolicyResult.self) }
        // A phone that was offline takes the next policy when it connects.
        phone.kill9()
        _ = try laptop.cli(["policy", "set", "alice-MP-1", "receive=direct:Inbox"], as: PolicyResult.self)
        try await phone.start()
        try await phone.eventually("the phone to take policy 2 on its next connection") {
            try phone.cli(["policy", "show"], as: PolicyResult.self).policies.first?.version == 2
        }
        let landed = try FileTransferIntegrationTests.push(laptop, [file.path], to: "alice-MP-1", "--direct")
        #expect(landed.state == "complete")
        #expect(FileManager.default.fileExists(atPath: phone.received.appendingPathComponent("Inbox/a.bin").path))
        withExtendedLifetime(server) {}
    }

    @Test func aSecondaryMayAskThePrimaryToApproveOnlyIfItsPolicySaysSo() async throws {
        let (server, primary, root) = try await Self.primary("roster-ask")
        let phone = try await Self.agent("phone", root: root)
        _ = try phone.login(server, type: "mobile")
        let tv = try await Self.agent("tv", root: root)
        _ = try tv.login(server, type: "tv", approve: false)
        try await phone.eventually("the tv to be pending on the phone") {
            try phone.cli(["devices", "--pending"], as: [PendingEntry].self).map(\.id) == ["alice-TV-1"]
        }
        #expect(throws: AgentHarness.CLIFailure.self) { _ = try phone.cli(["approve", "alice-TV-1"], as: RosterResult.self) }
        _ = try primary.cli(["policy", "set", "alice-MP-1", "approve=yes"], as: PolicyResult.self)
        try await phone.eventually("the phone to take its policy") {
            try phone.cli(["policy", "show"], as: PolicyResult.self).policies.first?.settings.contains("approve=yes") == true
        }
        let asked = try phone.cli(["approve", "alice-TV-1"], as: RosterResult.self)
        #expect(asked.note == "asked alice-PC-1 to approve alice-TV-1")
        try await tv.eventually("the tv to be approved by the primary") { try tv.cli(["status"], as: StatusResult.self).role == "secondary" }
        withExtendedLifetime(server) {}
    }

    /// messages=silent: the event says not to alert; history=drop: a viewed message's text goes.
    @Test func aSecondaryHandlesMessagesAsItsPolicySays() async throws {
        let (server, alice, bob) = try await ReadStateIntegrationTests.people(aliceDevices: 2)
        let (primary, phone) = (alice[0], alice[1])
        _ = try primary.cli(["policy", "set", "alice-PC-2", "messages=silent", "history=drop"], as: PolicyResult.self)
        try await phone.eventually("the policy") { try phone.cli(["policy", "show"], as: PolicyResult.self).policies.first?.version == 1 }
        let events = try KithProcess(["events", "--json", "--profile", phone.profile.path], in: phone.profile.deletingLastPathComponent(),
                                     name: "events-\(UUID().uuidString.prefix(4))")
        defer { events.kill() }
        try await Task.sleep(for: .milliseconds(300))
        let code = try #require(try bob.cli(["send", "alice", "keep this quiet"], as: SendResult.self).code)
        try await phone.eventually("a message event that does not alert") {
            events.stdout.split(separator: "\n").contains { $0.contains("\"message\"") && $0.contains("\"notify\":false") }
        }
        #expect(try phone.inbox().isEmpty)  // notes; the message is in `messages`
        _ = try primary.cli(["read", "\(code)"], as: ReadResult.self)
        try await phone.eventually("the text gone once viewed, the read state kept") {
            let message = try phone.cli(["inbox"], as: InboxResult.self).messages.first
            return message?.viewed == true && message?.text == ""
        }
        // The primary keeps its history.
        #expect(try primary.cli(["inbox"], as: InboxResult.self).messages.first?.text == "keep this quiet")
        withExtendedLifetime(server) {}
    }

    /// A device that skips its own agent's checks: what it sends is refused by its siblings
    /// (relayed notes from a pending device) and by the server (rosters, policies and revocations
    /// from a secondary; a first roster from anyone but the account's first device).
    @Test func whatAHostileDeviceSendsIsRefused() async throws {
        let (server, primary, _) = try await Self.primary("roster-hostile")
        let primaryKey = try IdentityFile.loadOrCreate(in: primary.profile).identity.noiseKeyPair.publicKey
        let hostile = TestDevice()
        let connection = try await hostile.connect(server)
        guard case .loginResult(let login) = try await hostile.login(connection, account: "alice", password: "correct horse") else {
            Issue.record("the hostile device could not log in")
            return
        }
        // Pending: the server does not take a note from it (the primary would drop it, and an
        // acknowledgement would lose it).
        let note = Envelope(.note(.init(id: (0..<16).map { _ in UInt8.random(in: 0...255) }, sentAtMillis: 1, text: "let me in")))
        let payload = try RelayedMessage.seal(note, from: login.deviceID, to: "alice-PC-1", senderKeys: hostile.keys, receiverKey: primaryKey)
        #expect(errorCode(try await connection.request(.relaySend(.init(to: "alice-PC-1", payload: payload))).message) == .notApproved)
        #expect(try primary.inbox().isEmpty)

        // Approved: a secondary, which the server still refuses to let sign anything or revoke anyone.
        let approved = try primary.cli(["approve", login.deviceID], as: RosterResult.self)
        let document = try await connection.next { message -> SignedDocument? in
            guard case .rosterUpdate(let update) = message,
                  (try? RosterSigning.roster(in: update.roster))?.devices.contains(where: { $0.deviceID == login.deviceID }) == true
            else { return nil }
            return update.roster
        }
        let roster = try ValidRoster(RosterSigning.roster(in: document))
        #expect(roster.label == approved.roster)
        let promoted = try RosterSigning.sign(try roster.handingOver(to: login.deviceID, issuedAtMillis: 2), signer: login.deviceID,
                                              with: hostile.identity)
        #expect(errorCode(try await connection.request(.rosterPublish(.init(roster: promoted))).message) == .forbidden)
        let policy = DevicePermissions(push: .anyDevice, mayApprove: true)
            .policy(account: "alice", deviceID: login.deviceID, epoch: 0, version: 1, issuedAtMillis: 2)
        let signed = try RosterSigning.sign(policy, signer: login.deviceID, with: hostile.identity)
        #expect(errorCode(try await connection.request(.policyPublish(.init(policy: signed))).message) == .forbidden)
        #expect(errorCode(try await connection.request(.revoke(.init(deviceID: "alice-PC-1"))).message) == .forbidden)
        #expect(try primary.cli(["status"], as: StatusResult.self).roster == approved.roster)

        // bob's account has no roster yet: only its first device may publish one, naming itself.
        let (bob1, bob2) = (TestDevice(), TestDevice())
        let c1 = try await bob1.connect(server), c2 = try await bob2.connect(server)
        guard case .loginResult(let first) = try await bob1.login(c1, account: "bob", password: "battery staple"),
              case .loginResult(let second) = try await bob2.login(c2, account: "bob", password: "battery staple") else {
            Issue.record("bob's devices could not log in")
            return
        }
        func firstRoster(primary: TestDevice, id: String, signer: TestDevice) throws -> SignedDocument {
            let me = RosterMember(deviceID: id, key: primary.identity.publicKey, role: .primary, name: "bob")
            return try RosterSigning.sign(Roster.first(account: "bob", primary: me, recoveryKey: RecoveryKey.generate().publicKey,
                                                       issuedAtMillis: 1), signer: id, with: signer.identity)
        }
        let usurper = try firstRoster(primary: bob2, id: second.deviceID, signer: bob2)
        #expect(errorCode(try await c2.request(.rosterPublish(.init(roster: usurper))).message) == .forbidden)
        #expect(errorCode(try await c1.request(.rosterPublish(.init(roster: usurper))).message) == .forbidden)
        let rightful = try firstRoster(primary: bob1, id: first.deviceID, signer: bob1)
        #expect(try await c1.request(.rosterPublish(.init(roster: rightful))).message == .ack(.init()))
        #expect(errorCode(try await c1.request(.rosterPublish(.init(roster: rightful))).message) == nil)  // the same again: unchanged
        for c in [connection, c1, c2] { await c.close() }
        withExtendedLifetime(server) {}
    }

    @Test func revokeCutsADeviceOff() async throws {
        let (server, primary, root) = try await Self.primary("roster-revoke")
        let phone = try await Self.agent("phone", root: root)
        let tablet = try await Self.agent("tablet", root: root)
        _ = try phone.login(server, type: "mobile")
        _ = try tablet.login(server, type: "mobile")
        _ = try tablet.cli(["send", "alice-MP-1", "before"], as: SendResult.self)
        try await phone.eventually("the note before the revocation") { try phone.inbox().contains { $0.text == "before" } }

        let result = try primary.cli(["revoke", "alice-MP-2"], as: RosterResult.self)
        #expect(!result.members.map(\.id).contains("alice-MP-2"))
        try phone.waitForRoster(result.roster ?? "")
        // The server ended its session and refuses its key; its siblings refuse it whatever the server does.
        try await tablet.eventually("the revoked tablet to lose its session") {
            try tablet.cli(["status"], as: StatusResult.self).deviceID == nil
        }
        #expect(throws: AgentHarness.CLIFailure.self) { _ = try tablet.login(server, type: "mobile", approve: false) }
        #expect(throws: AgentHarness.CLIFailure.self) { _ = try phone.cli(["send", "alice-MP-2", "after"], as: SendResult.self) }
        #expect(try await Self.streamIsRefused(to: phone, from: tablet))
        withExtendedLifetime(server) {}
    }

    @Test func handOverMovesTheRightsToTheNewPrimary() async throws {
        let (server, desktop, root) = try await Self.primary("roster-handover")
        let laptop = try await Self.agent("laptop", root: root)
        let phone = try await Self.agent("phone", root: root)
        _ = try laptop.login(server)
        _ = try phone.login(server, type: "mobile")

        let handed = try desktop.cli(["primary", "hand-over", "alice-PC-2"], as: RosterResult.self)
        #expect(handed.primary == "alice-PC-2")
        for agent in [laptop, phone] {
            try await agent.eventually("the new primary in the roster") { try Self.primaryOf(agent) == "alice-PC-2" }
        }
        #expect(try laptop.cli(["status"], as: StatusResult.self).role == "primary")
        #expect(try desktop.cli(["status"], as: StatusResult.self).role == "secondary")
        // The old primary lost its rights; the new one has them, and the phone follows it.
        #expect(throws: AgentHarness.CLIFailure.self) { _ = try desktop.cli(["policy", "set", "alice-MP-1", "push=none"], as: PolicyResult.self) }
        #expect(throws: AgentHarness.CLIFailure.self) { _ = try desktop.cli(["revoke", "alice-MP-1"], as: RosterResult.self) }
        _ = try laptop.cli(["policy", "set", "alice-MP-1", "push=none"], as: PolicyResult.self)
        try await phone.eventually("the phone to take the new primary's policy") {
            try phone.cli(["policy", "show"], as: PolicyResult.self).policies.first?.settings.contains("push=none") == true
        }
        // A device that joins now takes, as its first roster, the one the new primary re-signed
        // (the hand-over roster is signed by the old primary and lists no new device).
        let tablet = try await Self.agent("tablet", root: root)
        let joined = try tablet.login(server, type: "mobile", approve: false)
        #expect(throws: AgentHarness.CLIFailure.self) { _ = try desktop.cli(["approve", joined.deviceID], as: RosterResult.self) }
        let approved = try laptop.cli(["approve", joined.deviceID], as: RosterResult.self)
        try tablet.waitForRoster(approved.roster ?? "")
        #expect(try tablet.cli(["status"], as: StatusResult.self).role == "secondary")
        #expect(try Self.primaryOf(tablet) == "alice-PC-2")
        withExtendedLifetime(server) {}
    }

    @Test func theRecoveryKeyMakesANewPrimaryWhenTheOldOneIsLost() async throws {
        let server = try await ServerHarness.start()
        let root = temporaryDirectory("roster-recover")
        let desktop = try await Self.agent("desktop", root: root)
        let first = try desktop.login(server)
        let recoveryKey = try #require(first.recoveryKey)
        #expect(first.role == "primary")
        let laptop = try await Self.agent("laptop", root: root)
        let phone = try await Self.agent("phone", root: root)
        _ = try laptop.login(server)
        _ = try phone.login(server, type: "mobile")

        desktop.kill9()  // lost
        let keyFile = root.appendingPathComponent("recovery.txt")
        try (recoveryKey + "\n").write(to: keyFile, atomically: true, encoding: .utf8)
        let recovered = try laptop.cli(["primary", "recover", "--recovery-key-file", keyFile.path], as: RosterResult.self)
        #expect(recovered.primary == "alice-PC-2")
        #expect(recovered.roster == "roster 1 of epoch 1")
        #expect(!recovered.members.map(\.id).contains("alice-PC-1"))
        let newKey = try #require(recovered.recoveryKey)
        #expect(newKey != recoveryKey)
        try phone.waitForRoster("roster 1 of epoch 1")
        #expect(try Self.primaryOf(phone) == "alice-PC-2")
        // The used key does not work twice.
        #expect(throws: AgentHarness.CLIFailure.self) {
            _ = try phone.cli(["primary", "recover", "--recovery-key-file", keyFile.path], as: RosterResult.self)
        }
        // The old primary comes back: it follows the recovery roster, and is out.
        try await desktop.start()
        try await desktop.eventually("the old primary to take the recovery roster") {
            try desktop.cli(["status"], as: StatusResult.self).roster == "roster 1 of epoch 1"
        }
        #expect(try desktop.cli(["status"], as: StatusResult.self).role == "pending")
        // Pending again: its note waits for an approval that has not come.
        let waiting = try desktop.cli(["send", "alice-MP-1", "still here"], as: SendResult.self)
        #expect(!waiting.relayed && waiting.waiting != nil)
        withExtendedLifetime(server) {}
    }

    /// The server's database is edited: a device key added to the account, and the roster and a
    /// policy replaced. Every device keeps what it holds, refuses the forged device, and says why.
    @Test func aServerDatabaseEditForgesNothing() async throws {
        let (server, laptop, phone, root) = try await FileTransferIntegrationTests.pair(
            "roster-forgery", phoneUDP: "127.0.0.1:\(FileTransferIntegrationTests.freePort())")
        _ = try laptop.cli(["policy", "set", "alice-MP-1", "receive=direct"], as: PolicyResult.self)
        try await phone.eventually("policy 1 on the phone") {
            try phone.cli(["policy", "show"], as: PolicyResult.self).policies.first?.version == 1
        }
        let heldRoster = try phone.cli(["status"], as: StatusResult.self).roster

        server.stop()
        let store = try SQLiteServerStore(path: server.directory.appendingPathComponent("server.sqlite").path)
        let forged = DeviceIdentity.generate()
        let intruder = try store.registerDevice(DeviceRegistration(
            account: "alice", terminalType: .pc, typeCode: "PC", name: "intruder", key: forged.publicKey.rawValue,
            clientVersion: "forged", addresses: []), now: 1)
        // The roster with the intruder added, as the next version, the primary's signature kept.
        let rosterDocument = try RosterSigning.decodeDocument(try #require(try store.latestRoster(account: "alice")))
        let roster = try RosterSigning.roster(in: rosterDocument)
        var tampered = roster
        tampered.version += 1
        tampered.devices.append(RosterDevice(deviceID: intruder.id, key: forged.publicKey.rawValue, role: .secondary, name: "intruder"))
        var forgedRoster = rosterDocument
        forgedRoster.body = try RosterSigning.body(of: tampered)
        try store.storeRoster(account: "alice", document: try RosterSigning.encode(forgedRoster), kept: false)
        // The phone's policy loosened (push to anyone, receive from anyone directly): signed by the intruder.
        let policyDocument = try RosterSigning.decodeDocument(try #require(try store.policies(account: "alice").first?.document))
        var policy = try RosterSigning.policy(in: policyDocument)
        policy.version += 1
        policy.siblingsReceive = .reject
        let forgedPolicy = try RosterSigning.sign(policy, signer: "alice-PC-1", with: forged)
        try store.storePolicy(account: "alice", deviceID: "alice-MP-1", document: try RosterSigning.encode(forgedPolicy))
        try await server.startAgain()

        for agent in [laptop, phone] {
            try await agent.eventually("the forged documents to be refused, with the reason in the log") {
                let log = try String(contentsOf: agent.profile.appendingPathComponent("agent.log"), encoding: .utf8)
                return log.contains("refused a roster from the server: bad signature (signer alice-PC-1)")
            }
            #expect(try agent.cli(["status"], as: StatusResult.self).roster == heldRoster)
            #expect(try agent.cli(["devices", "--pending"], as: [PendingEntry].self).map(\.id).contains(intruder.id))
        }
        let phoneLog = try String(contentsOf: phone.profile.appendingPathComponent("agent.log"), encoding: .utf8)
        #expect(phoneLog.contains("refused a policy from the server: bad signature on policy (signer alice-PC-1)"))
        #expect(try phone.cli(["policy", "show"], as: PolicyResult.self).policies.first?.version == 1)
        // The intruder's key gets no stream, and a push still lands directly on the phone.
        #expect(try await Self.streamIsRefused(to: phone, keys: forged.noiseKeyPair))
        let file = try FileTransferIntegrationTests.randomFile(root.appendingPathComponent("b.bin"), bytes: 10_000)
        #expect(try FileTransferIntegrationTests.push(laptop, [file.path], to: "alice-MP-1", "--direct").state == "complete")
    }

    // MARK: - Helpers

    /// An agent on a known UDP port (its transfer listener has the same number).
    static func agent(_ name: String, root: URL) async throws -> AgentHarness {
        let agent = AgentHarness(name, root: root, udp: "127.0.0.1:\(FileTransferIntegrationTests.freePort())")
        try await agent.start()
        return agent
    }

    /// A server and the account's first device, its primary.
    static func primary(_ name: String) async throws -> (ServerHarness, AgentHarness, URL) {
        let server = try await ServerHarness.start()
        let root = temporaryDirectory(name)
        let primary = try await agent("primary", root: root)
        let login = try primary.login(server)
        #expect(login.role == "primary")
        #expect(login.recoveryKey != nil)
        return (server, primary, root)
    }

    static func primaryOf(_ agent: AgentHarness) throws -> String? {
        try agent.cli(["status"], as: StatusResult.self).primary
    }

    /// Whether `target`'s transfer listener refuses a device stream from `keys`: it sends a real
    /// offer (asking, so nothing lands) and looks for any answer; an approved sibling gets one.
    static func streamIsRefused(to target: AgentHarness, keys: KeyPair) async throws -> Bool {
        let targetKey = try IdentityFile.loadOrCreate(in: target.profile).identity.noiseKeyPair.publicKey
        guard let port = Int(target.udp.split(separator: ":").last ?? ""), port != 0 else {
            Issue.record("\(target.profile.lastPathComponent) has no known port")
            return false
        }
        do {
            let stream = try await DeviceStream.dial(host: "127.0.0.1", port: port,
                                                     role: .initiator(channel: .deviceToDevice, remoteStatic: targetKey),
                                                     keys: keys, group: MultiThreadedEventLoopGroup.singleton)
            return try await stream.executeThenClose { inbound, outbound in
                var events = inbound.makeAsyncIterator()
                do {
                    guard case .established? = try await events.next() else { return true }
                    let offer = FileOffer(transferID: (0..<16).map { _ in UInt8.random(in: 0...255) },
                                          files: [FileEntry(path: "probe.txt", size: 1)], receive: .ask, ttlSeconds: 60, chunkSize: 1 << 20)
                    try await outbound.write(Envelope(.fileOffer(offer)))
                    while let event = try await events.next() { if case .envelope = event { return false } }
                    return true
                } catch {
                    return true
                }
            }
        } catch {
            return true
        }
    }

    static func streamIsRefused(to target: AgentHarness, from device: AgentHarness) async throws -> Bool {
        try await streamIsRefused(to: target, keys: try IdentityFile.loadOrCreate(in: device.profile).identity.noiseKeyPair)
    }
}
