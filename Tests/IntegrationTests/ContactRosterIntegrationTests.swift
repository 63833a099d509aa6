import Foundation
import KithAPI
import KithAgent
import KithCore
import KithCrypto
import KithNet
import KithStore
import KithTestSupport
import KithWire
import Testing

/// A contact's devices are the ones their primary approved (Protocol/roster.md §Contacts'
/// rosters), with a real server and real agents: alice writes to bob, who has a device he never
/// approved, a device the server's database was given, a hand-over, and a roster an intruder signed.
@Suite(.serialized, .fewAtATime) struct ContactRosterIntegrationTests {
    @Test func onlyTheDevicesBobApprovedReadOrSendAsBob() async throws {
        let (server, alice, bob, root) = try await Self.contacts("contact-pending")
        // Someone with bob's password logs in a device that bob never approves.
        let stranger = AgentHarness("stranger", root: root)
        try await stranger.start()
        let pending = try stranger.login(server, account: "bob", password: "battery staple", approve: false)
        #expect(pending.role == "pending")
        try await alice.eventually("the server to list bob's pending device to alice") {
            try Self.contact("bob", of: alice)?.devices.map(\.id).contains(pending.deviceID) == true
        }

        // The server's database gains a device of bob's, which no roster of bob's lists.
        server.stop()
        let store = try SQLiteServerStore(path: server.directory.appendingPathComponent("server.sqlite").path)
        let planted = try store.registerDevice(DeviceRegistration(
            account: "bob", terminalType: .pc, typeCode: "PC", name: "planted", key: DeviceIdentity.generate().publicKey.rawValue,
            clientVersion: "forged", addresses: []), now: 1)
        try await server.startAgain()
        try await alice.eventually("alice back online, with the planted device in bob's list") {
            try alice.cli(["status"], as: StatusResult.self).connected
                && Self.contact("bob", of: alice)?.devices.map(\.id).contains(planted.id) == true
        }

        // alice's message is sealed for bob's approved device only.
        let sent = try alice.cli(["send", "bob", "for bob's eyes"], as: SendResult.self)
        #expect(sent.devices == ["bob-PC-1"])
        for device in [pending.deviceID, planted.id] {
            #expect(throws: AgentHarness.CLIFailure.self, "sending to \(device)") {
                _ = try alice.cli(["send", device, "hello?"], as: SendResult.self)
            }
        }
        try await bob.eventually("bob's desktop to get the message") { try Self.messages(bob).contains("for bob's eyes") }
        try await KithProcess.patientSleep(.milliseconds(500))
        #expect(try Self.messages(stranger).isEmpty, "the pending device holds nothing")

        // A device that skips its agent's checks: pending for bob, it asks the server to relay a
        // message to alice itself. The server refuses it (alice would drop it: what her own check
        // does with such a payload is `Intake`'s, unit-tested), and alice gets nothing.
        let hostile = TestDevice()
        let connection = try await hostile.connect(server)
        guard case .loginResult(let login) = try await hostile.login(connection, account: "bob", password: "battery staple") else {
            Issue.record("the hostile device could not log in")
            return
        }
        let aliceKey = try IdentityFile.loadOrCreate(in: alice.profile).identity.noiseKeyPair.publicKey
        let id = secureRandomBytes(16)
        let chat = Envelope(.chat(.init(id: id, sentAtMillis: 1, text: "it's me, bob")))
        let payload = try RelayedMessage.seal(chat, from: login.deviceID, to: "alice-PC-1", senderKeys: hostile.keys, receiverKey: aliceKey)
        let answer = try await connection.request(.chatSend(.init(to: "alice-PC-1", messageID: id, payload: payload))).message
        guard case .errorMessage(let refusal) = answer, refusal.code == ErrorCode.notApproved.rawValue else {
            Issue.record("the server took a message from bob's pending device: \(answer)")
            return
        }
        try await KithProcess.patientSleep(.milliseconds(300))
        #expect(try !Self.messages(alice).contains("it's me, bob"))
        await connection.close()

        // bob approves the device: alice takes his new roster, and her next message reaches it.
        let approved = try bob.cli(["approve", pending.deviceID], as: RosterResult.self)
        try await alice.eventually("alice to take bob's \(approved.roster ?? "")") {
            try Self.contact("bob", of: alice)?.roster == approved.roster
        }
        let again = try alice.cli(["send", "bob", "now both of you"], as: SendResult.self)
        #expect(again.devices?.sorted() == ["bob-PC-1", pending.deviceID].sorted())
        try await stranger.eventually("bob's newly approved device to get alice's next message") {
            try Self.messages(stranger).contains("now both of you")
        }
        #expect(try !Self.contact("bob", of: alice)!.approvedDevices!.contains(planted.id))

        // bob revocations it again: alice's next message is not sealed for it.
        let revoked = try bob.cli(["revoke", pending.deviceID], as: RosterResult.self)
        try await alice.eventually("alice to take bob's \(revoked.roster ?? "")") {
            try Self.contact("bob", of: alice)?.roster == revoked.roster
        }
        #expect(try alice.cli(["send", "bob", "just you again"], as: SendResult.self).devices == ["bob-PC-1"])
        withExtendedLifetime(server) {}
    }

    @Test func aHandOverIsFollowedAndAnIntrudersRosterStopsMessages() async throws {
        let (server, alice, bob, root) = try await Self.contacts("contact-intruder")
        let laptop = AgentHarness("bob-laptop", root: root)
        try await laptop.start()
        _ = try laptop.login(server, account: "bob", password: "battery staple")

        // The same safety code on both sides; alice confirms it.
        let code = try alice.cli(["contacts", "verify", "bob"], as: SafetyCodeResult.self)
        #expect(code.trust == "unverified" && !code.verified)
        for device in [bob, laptop] {
            #expect(try device.cli(["contacts", "verify", "alice"], as: SafetyCodeResult.self).code == code.code)
        }
        #expect(try alice.cli(["contacts", "verify", "bob", "--confirm"], as: SafetyCodeResult.self).verified)

        // bob hands his primary over: alice follows without a warning, and the code stays.
        let handed = try bob.cli(["primary", "hand-over", "bob-PC-2"], as: RosterResult.self)
        try await alice.eventually("alice to follow bob's hand-over") {
            guard let label = try Self.contact("bob", of: alice)?.roster else { return false }
            return AgentHarness.version(label) >= AgentHarness.version(handed.roster ?? "")
        }
        let followed = try #require(try Self.contact("bob", of: alice))
        #expect(followed.trust == "verified" && followed.warning == nil)
        #expect(try alice.cli(["contacts", "verify", "bob"], as: SafetyCodeResult.self).code == code.code)
        let sent = try alice.cli(["send", "bob", "still you?"], as: SendResult.self)
        #expect(sent.devices?.sorted() == ["bob-PC-1", "bob-PC-2"])
        try await laptop.eventually("the new primary to get the message") { try Self.messages(laptop).contains("still you?") }

        // With the server stopped, bob's roster in its database is replaced by one an intruder
        // signed, naming a device of its own as bob's primary.
        server.stop()
        let store = try SQLiteServerStore(path: server.directory.appendingPathComponent("server.sqlite").path)
        let intruderKey = DeviceIdentity.generate()
        let intruder = try store.registerDevice(DeviceRegistration(
            account: "bob", terminalType: .pc, typeCode: "PC", name: "intruder", key: intruderKey.publicKey.rawValue,
            clientVersion: "forged", addresses: []), now: 1)
        let held = try RosterSigning.roster(in: try RosterSigning.decodeDocument(try #require(try store.latestRoster(account: "bob"))))
        let forged = Roster(account: "bob", epoch: held.epoch, version: held.version + 1, issuedAtMillis: 1,
                            devices: [RosterDevice(deviceID: intruder.id, key: intruderKey.publicKey.rawValue, role: .primary, name: "bob")],
                            recoveryKey: RecoveryKey.generate().publicKey.rawValue)
        try store.storeRoster(account: "bob", document: try RosterSigning.encode(try RosterSigning.sign(forged, signer: intruder.id, with: intruderKey)),
                              kept: false)
        try await server.startAgain()

        try await alice.eventually("alice to warn that bob's keys changed") {
            try Self.contact("bob", of: alice)?.trust == "key changed"
        }
        let warned = try #require(try Self.contact("bob", of: alice))
        #expect(warned.warning?.contains("VERIFIED") == true, "the warning says bob had been verified")
        #expect(!warned.approvedDevices!.contains(intruder.id))
        do {
            _ = try alice.cli(["send", "bob", "are you there?"], as: SendResult.self)
            Issue.record("a message went out to a contact whose keys changed")
        } catch let failure as AgentHarness.CLIFailure {
            #expect(failure.message.contains("keys of bob"), "\(failure.message)")
        }
        #expect(try alice.cli(["status"], as: StatusResult.self).refusedFromContacts ?? 0 >= 1)
        // bob's own devices refuse it too (their own roster rules), and keep the hand-over's roster.
        try await laptop.eventually("bob's new primary to refuse the intruder's roster") {
            try String(contentsOf: laptop.profile.appendingPathComponent("agent.log"), encoding: .utf8)
                .contains("refused a roster from the server")
        }
        // Accepting the new key of a verified contact needs --yes; then it is unverified.
        #expect(throws: AgentHarness.CLIFailure.self) { _ = try alice.cli(["contacts", "trust", "bob"], as: SafetyCodeResult.self) }
        let trusted = try alice.cli(["contacts", "trust", "bob", "--yes"], as: SafetyCodeResult.self)
        #expect(trusted.trust == "unverified" && trusted.code != code.code)
        #expect(try Self.contact("bob", of: alice)?.approvedDevices == [intruder.id])
        withExtendedLifetime(server) {}
    }

    // MARK: - Helpers

    /// A server, alice's and bob's first devices (each its account's primary), and the two
    /// accounts made contacts; returns once each holds the other's roster.
    static func contacts(_ name: String) async throws -> (ServerHarness, AgentHarness, AgentHarness, URL) {
        let server = try await ServerHarness.start()
        let root = temporaryDirectory(name)
        let alice = AgentHarness("alice", root: root), bob = AgentHarness("bob", root: root)
        try await alice.start()
        try await bob.start()
        #expect(try alice.login(server).role == "primary")
        #expect(try bob.login(server, account: "bob", password: "battery staple").role == "primary")
        _ = try alice.cli(["contacts", "add", "bob"], as: EmptyResult.self)
        _ = try bob.cli(["contacts", "accept", "alice"], as: EmptyResult.self)
        for (agent, other) in [(alice, "bob"), (bob, "alice")] {
            try await agent.eventually("\(other)'s roster to be pinned") { try contact(other, of: agent)?.trust == "unverified" }
        }
        return (server, alice, bob, root)
    }

    static func contact(_ account: String, of agent: AgentHarness) throws -> ContactEntry? {
        try agent.cli(["contacts"], as: ContactsResult.self).contacts.first { $0.account == account }
    }

    static func messages(_ agent: AgentHarness) throws -> [String] {
        try agent.cli(["inbox", "--limit", "1000"], as: InboxResult.self).messages.map(\.text)
    }
}
