import Foundation
import KithCore
import KithCrypto
import KithNet
import KithTestSupport
import KithWire
import Testing

/// A real `kith server` process on loopback, driven by devices speaking the protocol
/// (spec §Sessions, §Relay). The agent-level scenarios live in AgentIntegrationTests.
@Suite(.serialized, .fewAtATime) struct ServerIntegrationTests {
    @Test func devicesGetDistinctIdsAndEveryDeviceSeesEveryChange() async throws {
        let server = try await ServerHarness.start()
        let pc1 = TestDevice(), pc2 = TestDevice(), phone = TestDevice()
        let c1 = try await pc1.connect(server)
        guard case .loginResult(let r1) = try await pc1.login(c1, account: "alice", password: "correct horse") else {
            Issue.record("login failed"); return
        }
        #expect(r1.deviceID == "alice-PC-1")
        _ = try await c1.nextDeviceList { $0.devices.count == 1 }

        let c2 = try await pc2.connect(server)
        let r2 = try await pc2.login(c2, account: "alice", password: "correct horse")
        let c3 = try await phone.connect(server)
        let r3 = try await phone.login(c3, account: "alice", password: "correct horse", type: .mobile, name: "phone")
        guard case .loginResult(let l2) = r2, case .loginResult(let l3) = r3 else { Issue.record("logins failed"); return }
        #expect(l2.deviceID == "alice-PC-2")
        #expect(l3.deviceID == "alice-MP-1")

        // Every online device receives the list with all three, online.
        for connection in [c1, c2, c3] {
            let list = try await connection.nextDeviceList { $0.devices.count == 3 && $0.devices.allSatisfy(\.online) }
            #expect(Set(list.devices.map(\.deviceID)) == ["alice-PC-1", "alice-PC-2", "alice-MP-1"])
            #expect(list.devices.first { $0.deviceID == "alice-MP-1" }?.name == "phone")
        }
        // A device that leaves shows offline on the others.
        await c3.close()
        for connection in [c1, c2] {
            do {
                _ = try await connection.nextDeviceList { list in list.devices.contains { $0.deviceID == "alice-MP-1" && !$0.online } }
            } catch {
                Issue.record("the server's log:\n\(server.log)")
                throw error
            }
        }
        // The same key gets its id back.
        let again = try await phone.connect(server)
        guard case .loginResult(let back) = try await phone.login(again, account: "alice", password: "correct horse",
                                                                  type: .mobile) else { Issue.record("relogin"); return }
        #expect(back.deviceID == "alice-MP-1")
    }

    @Test func wrongPasswordsAndForgedTokensAreRefused() async throws {
        let server = try await ServerHarness.start()
        let device = TestDevice()
        let connection = try await device.connect(server)
        let wrong = try await device.login(connection, account: "alice", password: "not the password")
        let unknown = try await device.login(connection, account: "nobody", password: "not the password")
        #expect(errorCode(wrong) == .unauthenticated)
        #expect(wrong == unknown)  // the same answer whether or not the account exists

        let forged = try await connection.request(.resume(.init(token: secureRandomBytes(32)))).message
        #expect(errorCode(forged) == .sessionExpired)

        guard case .loginResult(let result) = try await device.login(connection, account: "alice", password: "correct horse") else {
            Issue.record("login failed"); return
        }
        // The token works for its own device on a new connection…
        let resumed = try await device.connect(server)
        guard case .loginResult(let r) = try await resumed.request(.resume(.init(token: result.token))).message else {
            Issue.record("resume failed"); return
        }
        #expect(r.deviceID == result.deviceID)
        // …and not for another device's key.
        let thief = TestDevice()
        let stolen = try await thief.connect(server).request(.resume(.init(token: result.token))).message
        #expect(errorCode(stolen) == .sessionExpired)
        // Logging in with someone else's device key is refused too.
        let impostor = try await thief.connect(server).request(.login(.init(
            account: "alice", password: "correct horse", terminalType: .pc, deviceName: "x", clientVersion: "x",
            deviceKey: device.identity.publicKey.rawValue, addresses: []))).message
        #expect(errorCode(impostor) == .unauthenticated)
    }

    @Test func failedLoginsAreRateLimited() async throws {
        let server = try await ServerHarness.start()
        let device = TestDevice()
        let connection = try await device.connect(server)
        for _ in 0..<10 { _ = try await device.login(connection, account: "alice", password: "guess guess") }
        let limited = try await device.login(connection, account: "alice", password: "correct horse")
        #expect(errorCode(limited) == .rateLimited)
    }

    @Test func relayDeliversSealedNotesOnlineAndOfflineAndRefusesOtherAccounts() async throws {
        let server = try await ServerHarness.start()
        let pc = TestDevice(), phone = TestDevice(), bobs = TestDevice()
        let pcConnection = try await pc.connect(server)
        _ = try await pc.login(pcConnection, account: "alice", password: "correct horse")
        let phoneConnection = try await phone.connect(server)
        guard case .loginResult(let phoneLogin) = try await phone.login(
            phoneConnection, account: "alice", password: "correct horse", type: .mobile) else { Issue.record("login"); return }

        func note(_ text: String) -> Envelope {
            Envelope(.note(.init(id: secureRandomBytes(16), sentAtMillis: 1, text: text)))
        }
        func seal(_ text: String, to: String, key: PublicKey) throws -> [UInt8] {
            try RelayedMessage.seal(note(text), from: "alice-PC-1", to: to, senderKeys: pc.keys, receiverKey: key)
        }
        // Online: delivered at once, opens only for the right sender and receiver ids.
        let payload = try seal("hello phone", to: phoneLogin.deviceID, key: phone.keys.publicKey)
        let sent = try await pcConnection.request(.relaySend(.init(to: phoneLogin.deviceID, payload: payload))).message
        #expect(sent == .ack(.init()))
        let delivered = try await phoneConnection.nextRelay()
        #expect(delivered.from == "alice-PC-1")
        let opened = try RelayedMessage.open(delivered.payload, from: delivered.from, to: phoneLogin.deviceID,
                                             receiverKeys: phone.keys, senderKey: pc.keys.publicKey)
        guard case .note(let received) = opened.message else { Issue.record("not a note"); return }
        #expect(received.text == "hello phone")
        #expect(throws: WireError.self) {
            _ = try RelayedMessage.open(delivered.payload, from: "alice-PC-2", to: phoneLogin.deviceID,
                                        receiverKeys: phone.keys, senderKey: pc.keys.publicKey)
        }
        try await phoneConnection.send(.relayAck(.init(relayID: delivered.relayID)))

        // Offline: queued, delivered in order when the phone comes back; unacknowledged ones again.
        await phoneConnection.close()
        for text in ["one", "two", "three"] {
            let p = try seal(text, to: phoneLogin.deviceID, key: phone.keys.publicKey)
            #expect(try await pcConnection.request(.relaySend(.init(to: phoneLogin.deviceID, payload: p))).message == .ack(.init()))
        }
        var texts: [String] = []
        let back = try await phone.connect(server)
        _ = try await back.request(.resume(.init(token: phoneLogin.token)))
        for _ in 0..<3 {
            let d = try await back.nextRelay()
            let e = try RelayedMessage.open(d.payload, from: d.from, to: phoneLogin.deviceID, receiverKeys: phone.keys,
                                            senderKey: pc.keys.publicKey)
            if case .note(let n) = e.message { texts.append(n.text) }
            if texts.count < 3 { try await back.send(.relayAck(.init(relayID: d.relayID))) }  // the last one stays unacked
        }
        #expect(texts == ["one", "two", "three"])
        await back.close()
        let third = try await phone.connect(server)
        _ = try await third.request(.resume(.init(token: phoneLogin.token)))
        let redelivered = try await third.nextRelay()
        #expect(try RelayedMessage.open(redelivered.payload, from: redelivered.from, to: phoneLogin.deviceID,
                                        receiverKeys: phone.keys, senderKey: pc.keys.publicKey).message.type == .note)

        // Another account's device is refused, and an unknown one is not found.
        let bobConnection = try await bobs.connect(server)
        _ = try await bobs.login(bobConnection, account: "bob", password: "battery staple")
        let refused = try await bobConnection.request(.relaySend(.init(to: phoneLogin.deviceID, payload: [1, 2, 3]))).message
        #expect(errorCode(refused) == .forbidden)
        let missing = try await bobConnection.request(.relaySend(.init(to: "bob-PC-9", payload: [1]))).message
        #expect(errorCode(missing) == .notFound)
    }

    @Test func garbageOnTheServerPortClosesOnlyThatConnection() async throws {
        let server = try await ServerHarness.start()
        let device = TestDevice()
        let connection = try await device.connect(server)
        _ = try await device.login(connection, account: "alice", password: "correct horse")

        let garbage = try RawSocket(port: server.invite.port)
        garbage.send(Array("GET / HTTP/1.1\r\nHost: kith\r\n\r\n".utf8) + (0..<200).map { UInt8($0) })
        #expect(garbage.readUntilClosed(timeout: 5))  // the server hung up on it

        let pong = try await connection.request(.ping(.init(nonce: 42))).message
        #expect(pong == .pong(.init(nonce: 42)))
        #expect(server.log.contains("closing"))
    }

    @Test func devicesResumeAfterAServerRestart() async throws {
        let server = try await ServerHarness.start()
        let device = TestDevice()
        let first = try await device.connect(server)
        guard case .loginResult(let login) = try await device.login(first, account: "alice", password: "correct horse") else {
            Issue.record("login"); return
        }
        try await server.restart()
        let second = try await device.connect(server)
        guard case .loginResult(let resumed) = try await second.request(.resume(.init(token: login.token))).message else {
            Issue.record("resume after restart failed"); return
        }
        #expect(resumed.deviceID == login.deviceID)
    }
}

