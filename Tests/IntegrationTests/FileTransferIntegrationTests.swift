#if canImport(Glibc)
import Glibc
#endif
import Foundation
import KithAPI
import KithCore
import KithAgent
import KithCrypto
import KithNet
import KithStore
import KithTestSupport
import KithWire
import NIOPosix
import Testing

/// `kith push` between real agents on loopback (spec §File transfer): what lands, where, when
/// it asks, how it survives a killed agent, and what it does with hostile names. Two tests need
/// root (nftables to cut UDP, tmpfs for a full disk) and skip, saying so, otherwise.
@Suite(.serialized, .fewAtATime) struct FileTransferIntegrationTests {
    @Test func directReceiveLandsWithoutAPromptWithTheRightBytes() async throws {
        let (server, laptop, phone, root) = try await Self.pair("push-direct")
        let file = try Self.randomFile(root.appendingPathComponent("photo.raw"), bytes: 3_000_000 + 12_345)
        let tree = root.appendingPathComponent("Trip")
        try FileManager.default.createDirectory(at: tree.appendingPathComponent("day 1/empty"), withIntermediateDirectories: true)
        try Data("notes\n".utf8).write(to: tree.appendingPathComponent("day 1/notes.txt"))
        try Data().write(to: tree.appendingPathComponent("zero"))
        let script = tree.appendingPathComponent("run.sh")
        try Data("#!/bin/sh\n".utf8).write(to: script)
        chmod(script.path, 0o4755)  // setuid: must not survive

        let done = try Self.push(laptop, [file.path, tree.path], to: "alice-MP-1", "--direct")
        #expect(done.state == "complete")
        #expect(try Data(contentsOf: phone.received.appendingPathComponent("photo.raw")) == Data(contentsOf: file))
        #expect(try String(contentsOf: phone.received.appendingPathComponent("Trip/day 1/notes.txt"), encoding: .utf8) == "notes\n")
        #expect(FileManager.default.fileExists(atPath: phone.received.appendingPathComponent("Trip/day 1/empty").path))
        #expect(try Data(contentsOf: phone.received.appendingPathComponent("Trip/zero")).isEmpty)
        var info = stat()
        stat(phone.received.appendingPathComponent("Trip/run.sh").path, &info)
        #expect(info.st_mode & 0o7777 == 0o755, "mode \(String(info.st_mode & 0o7777, radix: 8))")
        let staging = try FileManager.default.contentsOfDirectory(atPath: phone.received.path).filter { $0.hasPrefix(".kith") }
        #expect(staging.isEmpty)

        // The same again: nothing is overwritten, the new copies get " (1)".
        _ = try Self.push(laptop, [file.path, tree.path], to: "alice-MP-1", "--direct")
        #expect(try Data(contentsOf: phone.received.appendingPathComponent("photo (1).raw")) == Data(contentsOf: file))
        #expect(FileManager.default.fileExists(atPath: phone.received.appendingPathComponent("Trip (1)/day 1/notes.txt").path))
        withExtendedLifetime(server) {}
    }

    @Test func askThenAcceptRejectOrLetExpire() async throws {
        let (server, laptop, phone, root) = try await Self.pair("push-ask")
        let file = try Self.randomFile(root.appendingPathComponent("report.pdf"), bytes: 200_000)

        // Ask (the default) → the offer waits on the phone → accepted into another folder.
        let asked = try laptop.cli(["push", file.path, "--to", "alice-MP-1", "--detach"], as: TransferInfo.self)
        try await phone.eventually("the offer, waiting") { try Self.transfer(asked.id, on: phone)?.state == "waiting" }
        #expect(try Self.transfer(asked.id, on: laptop)?.state == "waiting")
        let elsewhere = root.appendingPathComponent("chosen")
        _ = try phone.cli(["accept", String(asked.id.prefix(8)), "--to", elsewhere.path], as: TransferInfo.self)
        try await laptop.eventually("complete") { try Self.transfer(asked.id, on: laptop)?.state == "complete" }
        #expect(try Data(contentsOf: elsewhere.appendingPathComponent("report.pdf")) == Data(contentsOf: file))

        // Rejected: the sender hears it, nothing is written.
        let second = try laptop.cli(["push", file.path, "--to", "alice-MP-1", "--detach"], as: TransferInfo.self)
        try await phone.eventually("the second offer") { try Self.transfer(second.id, on: phone)?.state == "waiting" }
        _ = try phone.cli(["reject", second.id], as: TransferInfo.self)
        try await laptop.eventually("rejected") { try Self.transfer(second.id, on: laptop)?.state == "rejected" }
        #expect(!FileManager.default.fileExists(atPath: phone.received.path))

        // Nobody answers: the offer expires on both sides.
        let third = try laptop.cli(["push", file.path, "--to", "alice-MP-1", "--detach", "--expires", "1"], as: TransferInfo.self)
        try await laptop.eventually("expired", seconds: 15) { try Self.transfer(third.id, on: laptop)?.state == "expired" }
        #expect(try Self.transfer(third.id, on: phone)?.state == "expired")
        #expect(!FileManager.default.fileExists(atPath: phone.received.path))
        withExtendedLifetime(server) {}
    }

    @Test(arguments: ["sender", "receiver"])
    func resumesAfterKill9(of victim: String) async throws {
        // 8 MB/s: 6 s for the file, so the kill lands mid-way even on a loaded machine.
        let (server, laptop, phone, root) = try await Self.pair("push-kill-\(victim)", laptopExtra: ["--max-send-rate", "8M"])
        let size = 48 << 20
        let file = try Self.randomFile(root.appendingPathComponent("big.bin"), bytes: size)
        let started = try laptop.cli(["push", file.path, "--to", "alice-MP-1", "--direct", "--detach"], as: TransferInfo.self)
        try await phone.eventually("a quarter verified") {
            (try Self.transfer(started.id, on: phone)?.verifiedBytes ?? 0) >= UInt64(size / 4)
        }
        let victimAgent = victim == "sender" ? laptop : phone
        victimAgent.kill9()
        let survivor = victim == "sender" ? phone : laptop
        let atKill = try #require(try Self.transfer(started.id, on: survivor))
        try #require(atKill.state != "complete", "the transfer finished before the kill; the test proves nothing")
        let sentBefore = victim == "sender" ? 0 : (atKill.sentBytes ?? 0)
        try await victimAgent.start()
        try await laptop.eventually("complete after the restart", seconds: 60) {
            try Self.transfer(started.id, on: laptop)?.state == "complete"
        }
        #expect(try Data(contentsOf: phone.received.appendingPathComponent("big.bin")) == Data(contentsOf: file))
        let final = try #require(try Self.transfer(started.id, on: laptop))
        // A restarted sender counts from what it had stored (at most what it sent before): bytes
        // sent after the kill beyond what the receiver lacked are what was sent twice.
        let sentAfter = (final.sentBytes ?? 0) - min(final.sentBytes ?? 0, sentBefore)
        let resent = Int64(sentAfter) - Int64(UInt64(size) - atKill.verifiedBytes)
        print("resume after kill -9 of the \(victim): \(max(0, resent) >> 10) KiB sent again of \(size >> 20) MiB")
        #expect(resent < Int64(size / 5), "sent \(resent) bytes again")
        withExtendedLifetime(server) {}
    }

    /// The receiver gives up a transfer whose sender went silent (here: at once, `--abandon-after-hours 0`,
    /// looked at every second) and deletes its partial copies; the sender, back, hears it and stops.
    @Test func aReceiverGivesUpASilentTransferAndDeletesItsPartialCopies() async throws {
        let (server, laptop, phone, root) = try await Self.pair("push-abandon", laptopExtra: ["--max-send-rate", "4M"],
                                                               phoneExtra: ["--abandon-after-hours", "0"])
        let file = try Self.randomFile(root.appendingPathComponent("slow.bin"), bytes: 32 << 20)
        let started = try laptop.cli(["push", file.path, "--to", "alice-MP-1", "--direct", "--detach"], as: TransferInfo.self)
        try await phone.eventually("some data") { (try Self.transfer(started.id, on: phone)?.verifiedBytes ?? 0) >= 4 << 20 }
        laptop.kill9()
        try await phone.eventually("given up") { try Self.transfer(started.id, on: phone)?.state == "failed" }
        #expect(try Self.transfer(started.id, on: phone)?.reason?.contains("not heard from") == true)
        let staging = try FileManager.default.contentsOfDirectory(atPath: phone.received.path).filter { $0.hasPrefix(".kith") }
        #expect(staging.isEmpty, "partial copies left: \(staging)")
        try await laptop.start()
        try await laptop.eventually("the sender stops") { try Self.transfer(started.id, on: laptop)?.state == "failed" }
        withExtendedLifetime(server) {}
    }

    /// The sender cancels a push in flight (`kith reject ID` on its side): the receiver is told
    /// on the stream, shows it cancelled with the sender's reason, and deletes its partial copies
    /// at once instead of waiting for the abandon limit.
    @Test func theSendersCancelReachesTheReceiver() async throws {
        let (server, laptop, phone, root) = try await Self.pair("push-cancel", laptopExtra: ["--max-send-rate", "4M"])
        let file = try Self.randomFile(root.appendingPathComponent("slow.bin"), bytes: 32 << 20)
        let started = try laptop.cli(["push", file.path, "--to", "alice-MP-1", "--direct", "--detach"], as: TransferInfo.self)
        try await phone.eventually("some data") { (try Self.transfer(started.id, on: phone)?.verifiedBytes ?? 0) >= 2 << 20 }
        let cancelled = try laptop.cli(["reject", started.id], as: TransferInfo.self)
        #expect(cancelled.state == "cancelled")
        try await phone.eventually("the receiver to hear of it") { try Self.transfer(started.id, on: phone)?.state == "cancelled" }
        #expect(try Self.transfer(started.id, on: phone)?.reason == "the sender cancelled: cancelled on this device")
        let staging = try FileManager.default.contentsOfDirectory(atPath: phone.received.path).filter { $0.hasPrefix(".kith") }
        #expect(staging.isEmpty, "partial copies left: \(staging)")
        withExtendedLifetime(server) {}
    }

    /// A device of the account (the laptop's own key) offers names that climb out of the folder:
    /// the phone refuses the offer, says why, and writes nothing.
    @Test func hostileNamesAreRefusedAndNothingIsWritten() async throws {
        let port = Self.freePort()
        let (server, laptop, phone, _) = try await Self.pair("push-hostile", phoneUDP: "127.0.0.1:\(port)")
        let keys = try IdentityFile.loadOrCreate(in: laptop.profile).identity.noiseKeyPair
        let phoneKey = try IdentityFile.loadOrCreate(in: phone.profile).identity.noiseKeyPair.publicKey
        for path in ["../escape.txt", "/etc/kith-test", "ok/../../x", "a\u{1}b", "photo\u{202E}gpj.exe"] {
            let stream = try await DeviceStream.dial(host: "127.0.0.1", port: port,
                                                     role: .initiator(channel: .deviceToDevice, remoteStatic: phoneKey),
                                                     keys: keys, group: MultiThreadedEventLoopGroup.singleton)
            let reply: Message? = try await stream.executeThenClose { inbound, outbound in
                var events = inbound.makeAsyncIterator()
                guard case .established? = try await events.next() else { return nil }
                let offer = FileOffer(transferID: (0..<16).map { _ in UInt8.random(in: 0...255) },
                                      files: [FileEntry(path: "fine.txt", size: 1), FileEntry(path: path, size: 4)],
                                      receive: .direct, ttlSeconds: 60, chunkSize: 1 << 20)
                try await outbound.write(Envelope(.fileOffer(offer)))
                while let event = try await events.next() { if case .envelope(let envelope) = event { return envelope.message } }
                return nil
            }
            guard case .fileCancel(let cancel)? = reply else {
                Issue.record("\(path): expected FileCancel, got \(String(describing: reply))")
                continue
            }
            #expect(cancel.reason?.contains("refused the name") == true, "\(cancel.reason ?? "")")
            let shownRaw = cancel.reason?.unicodeScalars.contains { TransferName.isHidden($0) } ?? false
            #expect(!shownRaw, "the reason shows it escaped")
        }
        #expect(!FileManager.default.fileExists(atPath: phone.received.path))
        #expect(!FileManager.default.fileExists(atPath: "/etc/kith-test"))
        withExtendedLifetime(server) {}
    }

    /// A sender from before chunk tags (spec §File transfer, Chunk proofs): its offer has no chunk
    /// key, so the phone asks for chunk hashes, and the file those prove lands whole.
    @Test func anOlderSendersChunkHashesStillLand() async throws {
        let port = Self.freePort()
        let (server, laptop, phone, _) = try await Self.pair("push-older-sender", phoneUDP: "127.0.0.1:\(port)")
        let keys = try IdentityFile.loadOrCreate(in: laptop.profile).identity.noiseKeyPair
        let phoneKey = try IdentityFile.loadOrCreate(in: phone.profile).identity.noiseKeyPair.publicKey
        let content = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let stream = try await DeviceStream.dial(host: "127.0.0.1", port: port,
                                                 role: .initiator(channel: .deviceToDevice, remoteStatic: phoneKey),
                                                 keys: keys, group: MultiThreadedEventLoopGroup.singleton)
        let (answer, complete): (FileAnswer?, Bool) = try await stream.executeThenClose { inbound, outbound in
            var events = inbound.makeAsyncIterator()
            guard case .established? = try await events.next() else { return (nil, false) }
            let id = (0..<16).map { _ in UInt8.random(in: 0...255) }
            try await outbound.write(Envelope(.fileOffer(FileOffer(transferID: id, files: [FileEntry(path: "old.bin", size: 200_000)],
                                                                   receive: .direct, ttlSeconds: 60, chunkSize: 65536))))
            var answer: FileAnswer?
            while let event = try await events.next() {
                guard case .envelope(let envelope) = event else { continue }
                switch envelope.message {
                case .fileAnswer(let accepted) where accepted.state == .accepted:
                    answer = accepted
                    let encoder = ChunkEncoder(file: 0, size: 200_000, chunkSize: 65536, proofs: .hashes)
                    while !encoder.isDone {
                        let range = encoder.nextRange
                        let chunk = Array(content[Int(range.offset)..<Int(range.offset) + range.length])
                        try await outbound.write(contentsOf: try encoder.encode(chunk).map { Envelope(.fileData($0)) })
                    }
                    try await outbound.write(Envelope(.fileEnd(encoder.end())))
                case .fileProgress(let progress) where progress.complete == true:
                    return (answer, true)
                case .fileAnswer, .fileCancel:
                    return (answer, false)
                default:
                    continue
                }
            }
            return (answer, false)
        }
        #expect(answer != nil, "the phone accepted the offer")
        #expect((answer?.chunkProof ?? .hash) == .hash, "an offer without a chunk key gets chunk hashes")
        #expect(complete, "the phone reported the file complete")
        #expect(try Data(contentsOf: phone.received.appendingPathComponent("old.bin")) == Data(content))
        withExtendedLifetime(server) {}
    }

    /// UDP to the phone is cut, so the push starts through the server's transit; when the cut is
    /// lifted the path goes `lan` and the transfer moves to a direct stream without starting over.
    @Test(.enabled(if: getuid() == 0 && Self.which("nft") != nil, "needs root and nft to cut UDP on loopback"))
    func aRelayedTransferMovesToADirectStream() async throws {
        let port = Self.freePort()
        let table = "kithtest\(getpid())"
        try Self.shell("nft add table inet \(table) && nft 'add chain inet \(table) input { type filter hook input priority 0; policy accept; }' && nft add rule inet \(table) input udp dport \(port) drop")
        var cut = true
        defer { if cut { try? Self.shell("nft delete table inet \(table)") } }
        let (server, laptop, phone, root) = try await Self.pair("push-upgrade", laptopExtra: ["--max-send-rate", "8M"],
                                                               phoneUDP: "127.0.0.1:\(port)", path: "relay")
        let size = 64 << 20
        let file = try Self.randomFile(root.appendingPathComponent("movie.mkv"), bytes: size)
        let started = try laptop.cli(["push", file.path, "--to", "alice-MP-1", "--direct", "--detach"], as: TransferInfo.self)
        try await laptop.eventually("a relayed stream carrying data") {
            let t = try Self.transfer(started.id, on: laptop)
            return t?.path == "relay" && (t?.verifiedBytes ?? 0) >= 8 << 20
        }
        let verifiedOverTheRelay = try #require(try Self.transfer(started.id, on: laptop)?.verifiedBytes)
        try Self.shell("nft delete table inet \(table)")
        cut = false
        var sawDirect = false
        try await laptop.eventually("complete", seconds: 60) {
            let t = try Self.transfer(started.id, on: laptop)
            if t?.path == "lan" { sawDirect = true }
            return t?.state == "complete"
        }
        #expect(sawDirect, "the transfer never moved to the direct stream")
        #expect(try Data(contentsOf: phone.received.appendingPathComponent("movie.mkv")) == Data(contentsOf: file))
        let sent = try #require(try Self.transfer(started.id, on: laptop)?.sentBytes)
        print("relay → direct mid-transfer: \((Int64(sent) - Int64(size)) >> 10) KiB sent twice of \(size >> 20) MiB")
        // Starting over would send again everything verified over the relay; what was still in flight
        // on the relay when the path changed (up to its 4 MiB write buffer) may be sent twice.
        #expect(sent < UInt64(size) + verifiedOverTheRelay, "sent \(sent) bytes for a \(size)-byte file: it started over")
        withExtendedLifetime(server) {}
    }

    /// The phone's receive folder is a 24 MiB tmpfs: a 40 MiB push pauses on both sides with the
    /// reason, keeps what it has, and completes once the file system grows.
    @Test(.enabled(if: getuid() == 0, "needs root to mount a small tmpfs"))
    func aFullDiskPausesAndResumesWhenThereIsRoom() async throws {
        let root = temporaryDirectory("push-diskfull")
        let small = root.appendingPathComponent("phone-received")
        try FileManager.default.createDirectory(at: small, withIntermediateDirectories: true)
        try Self.shell("mount -t tmpfs -o size=24m kithtest \(small.path)")
        defer { try? Self.shell("umount \(small.path)") }
        // 8 MB/s keeps the sender close behind the receiver: at full speed up to ~16 MiB are queued
        // in buffers when the disk fills, and those go again whether or not it resumes.
        let (server, laptop, phone, _) = try await Self.pair("push-diskfull", root: root, laptopExtra: ["--max-send-rate", "8M"])
        let size = 40 << 20
        let file = try Self.randomFile(root.appendingPathComponent("disk.img"), bytes: size)
        let started = try laptop.cli(["push", file.path, "--to", "alice-MP-1", "--direct", "--detach"], as: TransferInfo.self)
        try await laptop.eventually("paused on the sender") { try Self.transfer(started.id, on: laptop)?.state == "paused" }
        let sender = try #require(try Self.transfer(started.id, on: laptop))
        let receiver = try #require(try Self.transfer(started.id, on: phone))
        #expect(sender.reason?.contains("no space left") == true, "\(sender.reason ?? "")")
        #expect(receiver.state == "paused" && receiver.reason?.contains("no space left") == true, "\(receiver.reason ?? "")")
        #expect(receiver.verifiedBytes > 0)
        try Self.shell("mount -o remount,size=96m \(small.path)")
        try await laptop.eventually("complete once there is room", seconds: 60) {
            try Self.transfer(started.id, on: laptop)?.state == "complete"
        }
        #expect(try Data(contentsOf: small.appendingPathComponent("disk.img")) == Data(contentsOf: file))
        // It resumed where the disk filled up: starting over would send again what fitted (~20 MiB).
        let sent = try #require(try Self.transfer(started.id, on: laptop)?.sentBytes)
        #expect(sent < UInt64(size) + UInt64(size / 4), "sent \(sent) bytes for a \(size)-byte file")
        withExtendedLifetime(server) {}
    }

    // MARK: - Helpers

    static func which(_ tool: String) -> String? {
        ["/usr/sbin/", "/usr/bin/", "/sbin/", "/bin/"].map { $0 + tool }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static func shell(_ command: String) throws {
        let result = try Program.run(URL(fileURLWithPath: "/bin/sh"), ["-c", command], timeout: 30)
        guard result.status == 0 else {
            throw AgentHarness.CLIFailure(status: result.status, message: "`\(command)` failed: \(result.stderr)")
        }
    }

    /// A server and alice's laptop and phone, logged in, with the path between them `path`.
    static func pair(_ name: String, root: URL? = nil, laptopExtra: [String] = [], laptopEnvironment: [String: String] = [:],
                     phoneUDP: String = "127.0.0.1:0",
                     phoneExtra: [String] = [], phoneEnvironment: [String: String] = [:], path: String = "lan") async throws
        -> (ServerHarness, AgentHarness, AgentHarness, URL) {
        let server = try await ServerHarness.start()
        let root = root ?? temporaryDirectory(name)
        let laptop = AgentHarness("laptop", root: root, extra: laptopExtra, environment: laptopEnvironment)
        let phone = AgentHarness("phone", root: root, udp: phoneUDP, extra: phoneExtra, environment: phoneEnvironment)
        try await laptop.start()
        try await phone.start()
        _ = try laptop.login(server)
        _ = try phone.login(server, type: "mobile")
        try await DirectPathIntegrationTests.waitForPath(path, from: laptop, to: "alice-MP-1")
        return (server, laptop, phone, root)
    }

    /// `kith push` followed to its end; its last JSON line.
    static func push(_ agent: AgentHarness, _ paths: [String], to device: String, _ flags: String...) throws -> TransferInfo {
        let result = try KithProcess.run(["push"] + paths + ["--to", device, "--profile", agent.profile.path, "--json"] + flags)
        guard result.status == 0 else { throw AgentHarness.CLIFailure(status: result.status, message: result.stdout + result.stderr) }
        let last = try #require(result.stdout.split(separator: "\n").last)
        return try JSONDecoder().decode(TransferInfo.self, from: Data(last.utf8))
    }

    static func transfer(_ id: String, on agent: AgentHarness) throws -> TransferInfo? {
        try agent.cli(["transfers"], as: TransfersResult.self).transfers.first { $0.id == id }
    }

    static func randomFile(_ url: URL, bytes: Int) throws -> URL {
        var generator = SystemRandomNumberGenerator()
        var data = Data(count: bytes)
        data.withUnsafeMutableBytes { buffer in
            for i in stride(from: 0, to: bytes - 7, by: 8) { buffer.storeBytes(of: generator.next() as UInt64, toByteOffset: i, as: UInt64.self) }
        }
        try data.write(to: url)
        return url
    }

    /// A port free for UDP and TCP on loopback right now.
    static func freePort() -> Int {
        while true {
            let port = Int.random(in: 20000...60000)
            let udp = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0), tcp = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(udp); close(tcp) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let ok = withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(udp, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 && bind(tcp, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                }
            }
            if ok { return port }
        }
    }
}
