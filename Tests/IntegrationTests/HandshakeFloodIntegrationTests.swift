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
