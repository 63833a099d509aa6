import Foundation
import KithAPI
import KithNet
import KithTestSupport
import KithWire
import Testing

/// Connections before login (spec §Sessions, Before login) against a real server: slow bytes,
/// half a frame and a handshake that never logs in are all closed at the login deadline, a flood
/// from one address is capped, and devices that logged in go on as if nothing happened.
@Suite(.serialized, .fewAtATime) struct AdmissionIntegrationTests {
    @Test func connectionsThatDoNotLogInAreClosedAtTheDeadline() async throws {
        let server = try await ServerHarness.start(extra: ["--login-deadline", "3", "--waiting-per-address", "40"])
        let root = temporaryDirectory("admission")
        let desktop = AgentHarness("desktop", root: root), phone = AgentHarness("phone", root: root)
        for agent in [desktop, phone] { try await agent.start() }
        _ = try desktop.login(server)
        _ = try phone.login(server, type: "mobile")
        let device = TestDevice()
        let loggedIn = try await device.connect(server)
        _ = try await device.login(loggedIn, account: "bob", password: "battery staple")

        // 10 that dribble a preamble, 10 that stop inside a frame, 10 that finish the handshake
        // and then only ping: 30 of the 40 this address may hold before login.
        let preamble = Preamble(channel: .agentToServer).bytes
        let slow = try (0..<10).map { _ in try RawSocket(port: server.invite.port) }
        let halfFrame = try (0..<10).map { _ in try RawSocket(port: server.invite.port) }
        for socket in halfFrame { socket.send(preamble + [0xFF, 0xFF] + [UInt8](repeating: 7, count: 1000)) }
        var silent: [ClientConnection] = []
        for _ in 0..<10 { silent.append(try await TestDevice().connect(server)) }
        let opened = Date()

        // Meanwhile the logged-in devices carry on: notes both ways, pings through the server.
        var exchanged = 0
        while Date().timeIntervalSince(opened) < 5 {
            for (index, socket) in slow.enumerated() { socket.send([preamble[(exchanged + index) % preamble.count]]) }
            for connection in silent where !connection.isClosed { _ = try? await connection.request(.ping(.init(nonce: 1)), timeout: .seconds(2)) }
            #expect(try await loggedIn.request(.ping(.init(nonce: 7))).message == .pong(.init(nonce: 7)))
            _ = try desktop.cli(["send", "alice-MP-1", "note \(exchanged)"], as: SendResult.self)
            exchanged += 1
        }
        try await phone.eventually("every note") { try phone.inbox().count == exchanged }

        // By now (5 s > the 3 s deadline) every connection that did not log in is closed.
        #expect(slow.allSatisfy { $0.readUntilClosed(timeout: 2) }, "a slow preamble outlived the deadline")
        #expect(halfFrame.allSatisfy { $0.readUntilClosed(timeout: 2) }, "half a frame outlived the deadline")
        let stillOpen = silent.filter { !$0.isClosed }.count
        #expect(stillOpen == 0, "\(stillOpen) channels that never logged in outlived the deadline")
        #expect(!loggedIn.isClosed)
        #expect(server.log.contains("did not log in within 3 s"))
    }

    @Test func aFloodFromOneAddressIsCappedAndTheCapFreesUp() async throws {
        let server = try await ServerHarness.start(extra: ["--login-deadline", "30", "--waiting-per-address", "20"])
        var waiting: [RawSocket]? = try (0..<20).map { _ in try RawSocket(port: server.invite.port) }
        // The 21st is closed at once, long before the deadline.
        let refused = try RawSocket(port: server.invite.port)
        #expect(refused.readUntilClosed(timeout: 5), "a connection over the cap was kept")
        #expect(server.log.contains("too many connections from this address that have not logged in"))
        // Once those go (closed here), a device logs in as usual.
        #expect(waiting?.count == 20)
        waiting = nil
        try await Task.sleep(for: .milliseconds(300))
        let device = TestDevice()
        let connection = try await device.connect(server)
        guard case .loginResult = try await device.login(connection, account: "alice", password: "correct horse") else {
            Issue.record("no login after the flood ended"); return
        }
    }
}
