import Foundation
#if canImport(Glibc)
import Glibc
#endif
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

/// The server's UDP port answers a padded endpoint probe with the address it came from, and an
/// unpadded one (shorter than its reply) not at all: no reply is larger than its probe.
@Suite struct EndpointReflectionIntegrationTests {
    @Test func aProbeGetsNoMoreBytesBackThanItSent() async throws {
        let server = try await ServerHarness.start()
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(server.invite.port).bigEndian)
        inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
        func exchange(_ probe: [UInt8]) -> [UInt8]? {
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, probe, probe.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            var buffer = [UInt8](repeating: 0, count: 2048)
            let n = recv(fd, &buffer, buffer.count, 0)
            return n > 0 ? Array(buffer[..<n]) : nil
        }
        let nonce = (0..<16).map { UInt8($0) }
        let padded = try Datagram.endpointProbe(nonce: nonce).encode()
        #expect(padded.count == Datagram.probeLength)
        let reply = try #require(exchange(padded), "no reply to a padded probe")
        #expect(reply.count <= padded.count)
        guard case .endpointReply(let echoed, let observed) = try Datagram.decode(reply[...]) else {
            Issue.record("not an endpoint reply"); return
        }
        #expect(echoed == nonce && observed.ip == [127, 0, 0, 1])
        #expect(exchange(Array(padded.prefix(20))) == nil, "a 20-byte probe was answered with more bytes than it had")
    }
}

/// The server's queue quotas with real agents (spec §Relay, Quotas): a note over the phone's
/// quota is refused, the sender says why and keeps it, and once the phone has taken its queue
/// every note arrives, once.
@Suite(.serialized, .fewAtATime) struct QueueQuotaIntegrationTests {
    @Test func aNoteOverTheQuotaWaitsWithTheSenderAndArrivesLater() async throws {
        let (server, laptop, phone) = try await DirectPathIntegrationTests.laptopAndPhone(
            "quota", udp: "off", serverExtra: ["--queue-for-device", "5,1M"])
        #expect(phone.terminate() == 0)

        var results: [SendResult] = []
        for n in 0..<8 { results.append(try laptop.cli(["send", "alice-MP-1", "note \(n)"], as: SendResult.self)) }
        let relayedAtOnce = results.prefix(5).filter { $0.relayed }.count
        #expect(relayedAtOnce == 5)
        #expect(!results[5].relayed)
        #expect(results[5].waiting?.contains("alice-MP-1 has 5 payloads") == true, "\(results[5].waiting ?? "no reason")")
        let human = try KithProcess.run(["send", "alice-MP-1", "note 8", "--profile", laptop.profile.path])
        #expect(human.stdout.contains("the server refused it for now"), "\(human.stdout)")

        try await phone.start()
        try await phone.eventually("all nine notes, each once", seconds: 40) {
            let texts = try phone.inbox().map(\.text)
            return texts.count == 9 && Set(texts) == Set((0..<9).map { "note \($0)" })
        }
        withExtendedLifetime(server) {}
    }
}
