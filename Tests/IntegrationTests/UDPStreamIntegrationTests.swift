#if canImport(Glibc)
import Glibc
#endif
import Foundation
import KithAPI
import KithAgent
import KithNet
import KithTestSupport
import Testing

/// Transfers over a UDP stream (spec §UDP stream) between real agents: on loopback the phone runs
/// without a TCP listener (`KITH_NO_TCP_STREAMS=1`), so the laptop's direct TCP dial is refused
/// and the push must take the UDP stream of its `lan` path instead of the server's transit.
/// Serialized, and small: a debug build's UDP stream costs far more CPU per byte than TCP, and
/// these tests share two cores with every other suite.
@Suite(.serialized, .fewAtATime) struct UDPStreamIntegrationTests {
    /// With the kernel's segmentation and receive offload (GSO, GRO: runs of datagrams in one
    /// write and one read), and without (`KITH_UDP_OFFLOAD=0`, as on a kernel that has neither):
    /// the same datagrams either way.
    @Test(arguments: [true, false])
    func aPushWithoutTCPTakesTheUDPStream(offload: Bool) async throws {
        let environment = offload ? [:] : ["KITH_UDP_OFFLOAD": "0"]
        let (server, laptop, phone, phoneProcess, root) = try await Self.pair("udp-push", environment: environment)
        let size = 8 << 20
        let file = try FileTransferIntegrationTests.randomFile(root.appendingPathComponent("photos.tar"), bytes: size)
        let started = ContinuousClock.now
        let sent = try laptop.cli(["push", file.path, "--to", "alice-MP-1", "--direct", "--detach"], as: TransferInfo.self)
        var paths: Set<String> = []
        try await laptop.eventually("complete over the UDP stream", seconds: 90) {
            let t = try FileTransferIntegrationTests.transfer(sent.id, on: laptop)
            if let path = t?.path { paths.insert(path) }
            return t?.state == "complete"
        }
        let seconds = Double((ContinuousClock.now - started).components.attoseconds) / 1e18
            + Double((ContinuousClock.now - started).components.seconds)
        #expect(paths == ["lan-udp"], "paths seen: \(paths)")
        #expect(try Data(contentsOf: phone.received.appendingPathComponent("photos.tar")) == Data(contentsOf: file))
        let incoming = try FileTransferIntegrationTests.transfer(sent.id, on: phone)
        #expect(incoming?.state == "complete")
        // The sender's count of datagrams and writes, from its line for the ended stream: with
        // offload, runs went out together; without, each alone.
        var counts: (datagrams: Int, writes: Int)?
        try await laptop.eventually("the laptop logs the stream's end", seconds: 20) {
            counts = Self.socketWrites(in: (try? String(contentsOf: laptop.profile.appendingPathComponent("agent.log"), encoding: .utf8)) ?? "")
            return counts != nil
        }
        if let counts {
            if offload && SegmentedDatagrams.kernelOffloads {
                #expect(counts.writes * 4 < counts.datagrams, "segmented writes: \(counts)")
            } else {
                #expect(counts.writes == counts.datagrams, "one datagram per write: \(counts)")
            }
        }
        let log = (try? String(contentsOf: laptop.profile.appendingPathComponent("agent.log"), encoding: .utf8)) ?? ""
        #expect(!log.contains("segmentation offload failed"))
        print("UDP stream on loopback, offload \(offload ? "on" : "off"): \(size >> 20) MiB in \(String(format: "%.2f", seconds)) s "
              + "(\(String(format: "%.1f", Double(size) / seconds / 1e6)) MB/s, with offer and polling)")
        withExtendedLifetime((server, phoneProcess)) {}
    }

    /// The receiver is killed mid-transfer and started again: the sender's stream ends (the
    /// restarted receiver answers its frames with a close), and the transfer resumes on a new
    /// UDP stream from the last verified chunk.
    @Test func aUDPTransferResumesAfterTheReceiverIsKilled() async throws {
        // 3 MB/s: the kill must come while the transfer runs, whatever else the machine does.
        var (server, laptop, phone, phoneProcess, root) = try await Self.pair("udp-resume", laptopExtra: ["--max-send-rate", "3M"])
        let size = 24 << 20
        let file = try FileTransferIntegrationTests.randomFile(root.appendingPathComponent("disk.img"), bytes: size)
        let sent = try laptop.cli(["push", file.path, "--to", "alice-MP-1", "--direct", "--detach"], as: TransferInfo.self)
        try await laptop.eventually("12 MiB verified over UDP", seconds: 60) {
            let t = try FileTransferIntegrationTests.transfer(sent.id, on: laptop)
            return t?.path == "lan-udp" && (t?.verifiedBytes ?? 0) >= 12 << 20
        }
        try #require(try FileTransferIntegrationTests.transfer(sent.id, on: laptop)?.state != "complete",
                     "the transfer finished before the kill; the test proves nothing")
        phoneProcess.kill()
        phoneProcess = try await Self.startPhone(phone)
        try await laptop.eventually("complete after the restart", seconds: 90) {
            try FileTransferIntegrationTests.transfer(sent.id, on: laptop)?.state == "complete"
        }
        #expect(try Data(contentsOf: phone.received.appendingPathComponent("disk.img")) == Data(contentsOf: file))
        let total = try #require(try FileTransferIntegrationTests.transfer(sent.id, on: laptop)?.sentBytes)
        print("UDP resume after kill -9 of the receiver: \((Int64(total) - Int64(size)) >> 10) KiB sent twice of \(size >> 20) MiB")
        // What the stream had queued and in flight (up to ~4 MB) and the chunks not yet committed
        // (up to 4 MiB) go twice; starting over would send the verified part (12 MiB or more) again too.
        #expect(total < UInt64(size) + (8 << 20), "sent \(total) bytes for a \(size)-byte file: it started over")
        withExtendedLifetime((server, phoneProcess)) {}
    }

    /// The sender is killed mid-transfer and started again: its new UDP stream takes the transfer
    /// over on the receiver (the old one is closed there), which resumes from the verified chunks.
    @Test func aUDPTransferResumesAfterTheSenderIsKilled() async throws {
        let (server, laptop, phone, phoneProcess, root) = try await Self.pair("udp-resume-sender", laptopExtra: ["--max-send-rate", "2M"])
        let size = 16 << 20
        let file = try FileTransferIntegrationTests.randomFile(root.appendingPathComponent("backup.tar"), bytes: size)
        let sent = try laptop.cli(["push", file.path, "--to", "alice-MP-1", "--direct", "--detach"], as: TransferInfo.self)
        try await phone.eventually("8 MiB verified over UDP", seconds: 60) {
            let t = try FileTransferIntegrationTests.transfer(sent.id, on: phone)
            return t?.path == "lan-udp" && (t?.verifiedBytes ?? 0) >= 8 << 20
        }
        laptop.kill9()
        let atKill = try #require(try FileTransferIntegrationTests.transfer(sent.id, on: phone))
        try #require(atKill.state != "complete", "the transfer finished before the kill; the test proves nothing")
        try await laptop.start()
        try await laptop.eventually("complete after the restart", seconds: 90) {
            try FileTransferIntegrationTests.transfer(sent.id, on: laptop)?.state == "complete"
        }
        #expect(try Data(contentsOf: phone.received.appendingPathComponent("backup.tar")) == Data(contentsOf: file))
        let final = try #require(try FileTransferIntegrationTests.transfer(sent.id, on: laptop))
        // As in FileTransferIntegrationTests.resumesAfterKill9: the restarted sender counts from what it had stored.
        let resent = Int64(final.sentBytes ?? 0) - Int64(UInt64(size) - atKill.verifiedBytes)
        print("UDP resume after kill -9 of the sender: \(max(0, resent) >> 10) KiB sent again of \(size >> 20) MiB")
        #expect(resent < Int64(size / 4), "sent \(resent) bytes again")
        withExtendedLifetime((server, phoneProcess)) {}
    }

    /// UDP to the phone is cut, so the push starts through the server's transit; when the cut is
    /// lifted the path goes `lan`, TCP is still refused (no listener), and the transfer moves to a
    /// UDP stream without starting over.
    @Test(.enabled(if: getuid() == 0 && FileTransferIntegrationTests.which("nft") != nil, "needs root and nft to cut UDP on loopback"))
    func aRelayedTransferMovesToAUDPStream() async throws {
        let port = FileTransferIntegrationTests.freePort()
        let table = "kithudp\(getpid())"
        try FileTransferIntegrationTests.shell("nft add table inet \(table) && nft 'add chain inet \(table) input { type filter hook input priority 0; policy accept; }' && nft add rule inet \(table) input udp dport \(port) drop")
        var cut = true
        defer { if cut { try? FileTransferIntegrationTests.shell("nft delete table inet \(table)") } }
        let (server, laptop, phone, phoneProcess, root) = try await Self.pair(
            "udp-upgrade", laptopExtra: ["--max-send-rate", "8M"], phoneUDP: "127.0.0.1:\(port)", path: "relay")
        let size = 24 << 20
        let file = try FileTransferIntegrationTests.randomFile(root.appendingPathComponent("movie.mkv"), bytes: size)
        let started = try laptop.cli(["push", file.path, "--to", "alice-MP-1", "--direct", "--detach"], as: TransferInfo.self)
        try await laptop.eventually("a relayed stream carrying data") {
            let t = try FileTransferIntegrationTests.transfer(started.id, on: laptop)
            return t?.path == "relay" && (t?.verifiedBytes ?? 0) >= 8 << 20
        }
        let verifiedOverTheRelay = try #require(try FileTransferIntegrationTests.transfer(started.id, on: laptop)?.verifiedBytes)
        try FileTransferIntegrationTests.shell("nft delete table inet \(table)")
        cut = false
        var paths: [String] = []
        try await laptop.eventually("complete", seconds: 90) {
            let t = try FileTransferIntegrationTests.transfer(started.id, on: laptop)
            if let path = t?.path, paths.last != path { paths.append(path) }
            return t?.state == "complete"
        }
        #expect(paths.contains("lan-udp"), "the transfer never moved to the UDP stream: \(paths)")
        #expect(try Data(contentsOf: phone.received.appendingPathComponent("movie.mkv")) == Data(contentsOf: file))
        let sent = try #require(try FileTransferIntegrationTests.transfer(started.id, on: laptop)?.sentBytes)
        print("relay → UDP stream mid-transfer (paths \(paths)): \((Int64(sent) - Int64(size)) >> 10) KiB sent twice of \(size >> 20) MiB")
        // Starting over would send again everything verified over the relay; what was still in flight
        // on the relay when the path changed (up to its 4 MiB write buffer) may be sent twice.
        #expect(sent < UInt64(size) + verifiedOverTheRelay, "sent \(sent) bytes for a \(size)-byte file: it started over")
        withExtendedLifetime((server, phoneProcess)) {}
    }

    // MARK: - Helpers

    /// "N in M writes" from the last "UDP stream … ended" line of an agent's log.
    static func socketWrites(in log: String) -> (datagrams: Int, writes: Int)? {
        guard let line = log.split(separator: "\n").last(where: { $0.contains("UDP stream") && $0.contains(" ended: ") }),
              let match = line.firstMatch(of: /(\d+) in (\d+) writes/),
              let datagrams = Int(match.1), let writes = Int(match.2) else { return nil }
        return (datagrams, writes)
    }

    /// A server, alice's laptop (as usual) and phone (no TCP listener), logged in, with `path` between them.
    static func pair(_ name: String, laptopExtra: [String] = [], phoneUDP: String = "127.0.0.1:0", path: String = "lan",
                     environment: [String: String] = [:]) async throws
        -> (ServerHarness, AgentHarness, AgentHarness, KithProcess, URL) {
        let server = try await ServerHarness.start()
        let root = temporaryDirectory(name)
        let laptop = AgentHarness("laptop", root: root, extra: laptopExtra, environment: environment)
        let phone = AgentHarness("phone", root: root, udp: phoneUDP, environment: environment)
        try await laptop.start()
        let process = try await startPhone(phone)
        _ = try laptop.login(server)
        _ = try phone.login(server, type: "mobile")
        try await DirectPathIntegrationTests.waitForPath(path, from: laptop, to: "alice-MP-1")
        return (server, laptop, phone, process, root)
    }

    /// The phone's agent as `AgentHarness.start` runs it, with `KITH_NO_TCP_STREAMS=1`.
    static func startPhone(_ phone: AgentHarness) async throws -> KithProcess {
        let process = try KithProcess(["agent", "--profile", phone.profile.path, "--foreground", "--udp", phone.udp,
                                       "--no-lan-discovery", "--receive-dir", phone.received.path],
                                      in: phone.profile.deletingLastPathComponent(),
                                      name: phone.profile.lastPathComponent + "-\(UUID().uuidString.prefix(4))",
                                      environment: phone.environment.merging(["KITH_NO_TCP_STREAMS": "1"]) { $1 })
        _ = try await process.waitForLine(startingWith: "agent running")
        return process
    }
}

/// `Tools/netlab/stream-push`: two cone NATs, a `direct` UDP path, TCP between the devices
/// blocked; a 16 MiB push completes over the UDP stream (`direct-udp`) with the right hash, so
/// does an 8 MiB one with the sender's link at MTU 1280 (segmented writes refused, datagram by
/// datagram after), and the same push through transit gives the rate to compare with. Root only.
@Suite(.serialized, .fewAtATime, .enabled(if: Netlab.unavailable == nil, "the network lab needs root, ip netns and nft"))
struct UDPStreamNetlabTests {
    @Test func aPushBetweenConeNATsWithoutTCPGoesOverTheUDPStream() async throws {
        let (status, output) = try await NetlabTests.run(["stream-push", "16"], timeout: .seconds(240))
        if status == 77 {
            print("netlab stream-push skipped: \(output)")
            return
        }
        let result = output.split(separator: "\n").last { $0.hasPrefix("RESULT ") }
        print("netlab stream-push: \(result ?? "no result line")")
        #expect(status == 0 && result.map { !$0.contains("FAILED") } == true,
                "Tools/netlab/stream-push failed (exit \(status)):\n\(output)")
    }
}
