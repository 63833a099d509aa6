#if canImport(Glibc)
import Glibc
#endif
import Foundation
import KithAPI
import KithCore
import KithCrypto
import KithStore
import KithTestSupport
import KithWire
import Testing

/// A UDP handshake flood at a real agent (spec §UDP packets, Handshake over UDP): initiations for
/// another key are dropped on their MAC, initiations with a right MAC from a stranger's key are
/// held to their source's rate, and the agent's direct path to its sibling stays up throughout.
/// The CPU the flood cost the agent is printed (a debug build; not asserted).
@Suite(.serialized, .fewAtATime) struct HandshakeFloodIntegrationTests {
    @Test func aFloodOfInitiationsLeavesTheSiblingPathUp() async throws {
        let port = FileTransferIntegrationTests.freePort()
        let (server, laptop, phone, _) = try await FileTransferIntegrationTests.pair("handshake-flood", phoneUDP: "127.0.0.1:\(port)")
        let phoneKey = try IdentityFile.loadOrCreate(in: phone.profile).identity.noiseKeyPair.publicKey
        let pid = try #require(phone.process?.process.processIdentifier)

        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        func send(_ packet: [UInt8]) {
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, packet, packet.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        // Made for another device's key, and with a right MAC from a stranger's key.
        let elsewhere = KeyPair.generate().publicKey
        let wrongKey = try (0..<50).map { i in
            try DeviceHandshake.initiate(localKeys: KeyPair.generate(), peerKey: elsewhere, localIndex: UInt32(i + 1), nowMillis: 1).0
        }
        let stranger = KeyPair.generate()
        let rightMAC = try (0..<50).map { i in
            try DeviceHandshake.initiate(localKeys: stranger, peerKey: phoneKey, localIndex: UInt32(i + 1), nowMillis: UInt64(i + 1)).0
        }
        for (name, packets) in [("wrong-key", wrongKey), ("right-MAC stranger", rightMAC)] {
            let before = Self.cpuMillis(pid)
            let started = Date()
            for n in 0..<5000 {
                send(packets[n % packets.count])
                if n % 50 == 49 { usleep(10_000) }  // about 5,000 a second
            }
            let seconds = Date().timeIntervalSince(started)
            let rtt = try laptop.cli(["devices"], as: DevicesResult.self).devices.first { $0.id == "alice-MP-1" }?.rttMillis
            try await Task.sleep(for: .milliseconds(300))
            let spent = Self.cpuMillis(pid) - before
            let build = ProcessInfo.processInfo.environment["KITH_BINARY"] ?? "debug build"
            print("handshake flood, \(name): 5000 initiations in \(String(format: "%.2f", seconds)) s cost the agent \(spent) ms of CPU "
                  + "(\(String(format: "%.1f", Double(spent) / 10 / (seconds + 0.3)))% of a core, \(build)); "
                  + "the sibling path's round trip then \(rtt.map { String(format: "%.2f ms", $0) } ?? "?")")
        }
        try await DirectPathIntegrationTests.waitForPath("lan", from: laptop, to: "alice-MP-1")
        _ = try laptop.cli(["send", "alice-MP-1", "after the flood"], as: SendResult.self)
        try await phone.eventually("the note") { try phone.inbox().map(\.text).contains("after the flood") }
        #expect(try laptop.cli(["status"], as: StatusResult.self).sentDirect >= 1, "the note went over the direct path")
        withExtendedLifetime(server) {}
    }

    /// Under load (spec §UDP packets, Handshake over UDP): a flood of right-MAC initiations gets
    /// cookie replies, no handshakes, and a sibling that restarts during the flood takes the
    /// phone's cookie and gets its direct path back with initiations that carry it.
    @Test func underLoadASiblingGetsInWithItsCookie() async throws {
        let port = FileTransferIntegrationTests.freePort()
        let (server, laptop, phone, _) = try await FileTransferIntegrationTests.pair("handshake-cookie", phoneUDP: "127.0.0.1:\(port)")
        let phoneKey = try IdentityFile.loadOrCreate(in: phone.profile).identity.noiseKeyPair.publicKey
        let stranger = KeyPair.generate()
        let packets = try (0..<50).map { i in
            try DeviceHandshake.initiate(localKeys: stranger, peerKey: phoneKey, localIndex: UInt32(i + 1), nowMillis: UInt64(i + 1)).0
        }
        let flood = Flood(to: port, packets: packets)
        let thread = Thread { flood.run() }
        thread.start()
        defer { flood.stop() }
        try await phone.eventually("a cookie reply to the flood") { flood.received.cookieReplies > 0 }

        laptop.kill9()
        try await laptop.start()
        try await DirectPathIntegrationTests.waitForPath("lan", from: laptop, to: "alice-MP-1", seconds: 30)
        let under = try await Self.logLine(of: phone, containing: "carrying a right cookie answered") { line in
            !line.contains(" 0 carrying a right cookie answered")
        }
        #expect(under != nil, "the phone answered no initiation that carried its cookie")
        let taken = try await Self.logLine(of: laptop, containing: "is under load: initiations to it carry its cookie") { _ in true }
        #expect(taken != nil, "the laptop never took the phone's cookie")
        flood.stop()
        let received = flood.received
        print("handshake cookie: the flood got \(received.cookieReplies) cookie replies and \(received.other) other datagrams")
        #expect(received.other == 0, "a stranger's right-MAC initiation got something other than a cookie reply")
        _ = try laptop.cli(["send", "alice-MP-1", "through the load"], as: SendResult.self)
        try await phone.eventually("the note") { try phone.inbox().map(\.text).contains("through the load") }
        withExtendedLifetime(server) {}
    }

    /// The first line of the agent's output (stderr and agent.log) that contains `text` and passes
    /// `accept`, waiting up to 30 s for it; nil if none came.
    static func logLine(of agent: AgentHarness, containing text: String, _ accept: (Substring) -> Bool) async throws -> Substring? {
        for _ in 0..<150 {
            let log = (agent.process?.stderr ?? "")
                + ((try? String(contentsOf: agent.profile.appendingPathComponent("agent.log"), encoding: .utf8)) ?? "")
            if let line = log.split(separator: "\n").first(where: { $0.contains(text) && accept($0) }) { return line }
            try await Task.sleep(for: .milliseconds(200))
        }
        return nil
    }

    /// User and system CPU time of a process so far, in milliseconds (/proc/PID/stat).
    static func cpuMillis(_ pid: Int32) -> Int {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        let ticks = (Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0)  // utime, stime (fields 14 and 15)
        return ticks * 1000 / Int(sysconf(Int32(_SC_CLK_TCK)))
    }
}

/// The agent's transfer port before authentication (spec §File transfer, Streams): eight
/// streams from one address may wait, a ninth is closed at once, a sibling at another address
/// still pushes, and the waiting ones are closed at the 10 s deadline.
@Suite(.serialized, .fewAtATime) struct TransferPortAdmissionIntegrationTests {
    @Test func strangersAtOneAddressCannotCrowdOutASibling() async throws {
        let port = FileTransferIntegrationTests.freePort()
        let (server, laptop, _, root) = try await FileTransferIntegrationTests.pair("stream-admission", phoneUDP: "127.0.0.1:\(port)")
        let waiting = try (0..<8).map { _ in try RawSocket(port: port, from: "127.0.0.2") }
        try await Task.sleep(for: .milliseconds(300))
        let ninth = try RawSocket(port: port, from: "127.0.0.2")
        #expect(ninth.readUntilClosed(timeout: 3), "a ninth stream from one address was kept")

        let file = try FileTransferIntegrationTests.randomFile(root.appendingPathComponent("small.bin"), bytes: 100_000)
        let pushed = try FileTransferIntegrationTests.push(laptop, [file.path], to: "alice-MP-1", "--direct")
        #expect(pushed.state == "complete", "the sibling's push while strangers wait: \(pushed.state)")
        #expect(waiting.allSatisfy { $0.readUntilClosed(timeout: 12) }, "a stream outlived the 10 s deadline")
        withExtendedLifetime(server) {}
    }
}

/// Right-MAC initiations from one UDP socket at about 1,000 a second, on its own thread, counting
/// what comes back, until stopped.
final class Flood: @unchecked Sendable {
    private let lock = NSLock()
    private var stopped = false
    private var counts = (cookieReplies: 0, other: 0)
    private let fd: Int32
    private var address = sockaddr_in()
    private let packets: [[UInt8]]

    init(to port: Int, packets: [[UInt8]]) {
        self.packets = packets
        fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        var timeout = timeval(tv_sec: 0, tv_usec: 1)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
    }

    deinit { close(fd) }

    var received: (cookieReplies: Int, other: Int) { lock.withLock { counts } }

    func stop() { lock.withLock { stopped = true } }

    func run() {
        var n = 0
        var buffer = [UInt8](repeating: 0, count: 1500)
        while !lock.withLock({ stopped }) {
            let packet = packets[n % packets.count]
            n += 1
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, packet, packet.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            while case let count = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT)), count > 0 {
                lock.withLock {
                    if count == 64 && buffer[0] == Datagram.PacketType.cookieReply.rawValue { counts.cookieReplies += 1 } else { counts.other += 1 }
                }
            }
            usleep(1000)
        }
    }
}
