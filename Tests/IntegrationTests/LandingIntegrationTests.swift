#if canImport(Glibc)
import Glibc
#endif
import Foundation
import KithAPI
import KithTestSupport
import Testing

/// The receive folder under attack from this machine (spec §File names, On the disk): folders
/// swapped for links while files land, a hard link or an over-long file planted at a partial
/// copy's place while the receiver is down. Nothing outside the receive folder changes, and no
/// wrong file lands.
@Suite(.serialized, .fewAtATime) struct LandingIntegrationTests {
    /// While sixty files land in `album/sub`, another thread keeps swapping that folder for a
    /// link to a folder outside, for as long as the push takes. Nothing may land outside.
    @Test func aFolderSwappedForALinkWhileFilesLandSendsNothingOutside() async throws {
        let (server, laptop, phone, root) = try await FileTransferIntegrationTests.pair("landing-race", laptopExtra: ["--max-send-rate", "2M"])
        let album = root.appendingPathComponent("album/sub")
        try FileManager.default.createDirectory(at: album, withIntermediateDirectories: true)
        for n in 0..<60 { _ = try FileTransferIntegrationTests.randomFile(album.appendingPathComponent("f\(n).bin"), bytes: 64 << 10) }
        let outside = root.appendingPathComponent("outside")
        try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)

        let started = try laptop.cli(["push", root.appendingPathComponent("album").path, "--to", "alice-MP-1", "--direct", "--detach"],
                                     as: TransferInfo.self)
        let target = phone.received.appendingPathComponent("album/sub").path
        let aside = phone.received.appendingPathComponent("album/sub-real").path
        let racing = Racer()
        let racer = Thread {
            var swaps = 0
            while !racing.done {
                // Swap the real folder for a link to `outside`, then back.
                if rename(target, aside) == 0 {
                    if symlink(outside.path, target) == 0 { swaps += 1 }
                    usleep(200)
                    unlink(target)
                    rename(aside, target)
                }
                usleep(300)
            }
            racing.swaps = swaps
        }
        racer.start()
        // Bounded: the race runs while the push does, for at most eight seconds.
        let ended = ["complete", "failed", "cancelled", "rejected"]
        var final: TransferInfo?
        let raceUntil = Date().addingTimeInterval(8)
        while Date() < raceUntil {
            final = try FileTransferIntegrationTests.transfer(started.id, on: phone)
            if ended.contains(final?.state ?? "") { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        racing.done = true
        while racing.swaps == nil { usleep(1000) }
        try await phone.eventually("the push to end", seconds: 90) {
            final = try FileTransferIntegrationTests.transfer(started.id, on: phone)
            return ended.contains(final?.state ?? "")
        }
        print("landing race: \(racing.swaps!) swaps while the push ran; it ended \(final?.state ?? "?") (\(final?.reason ?? ""))")
        #expect(racing.swaps! > 0, "the racer never swapped: the test proves nothing")
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside.path).isEmpty, "files landed outside the receive folder")
        withExtendedLifetime(server) {}
    }

    /// The receiver is killed mid-push; meanwhile its partial copy is replaced by a hard link to a
    /// file outside (`planted = "link"`) or made longer than the whole file (`"long"`). Back, it
    /// neither writes through the link nor lands a wrong file: the file lands whole and right.
    @Test(arguments: ["link", "long"])
    func aPlantedPartialCopyIsNotTrusted(_ planted: String) async throws {
        let (server, laptop, phone, root) = try await FileTransferIntegrationTests.pair("landing-\(planted)", laptopExtra: ["--max-send-rate", "4M"])
        let size = 16 << 20
        let file = try FileTransferIntegrationTests.randomFile(root.appendingPathComponent("big.bin"), bytes: size)
        let victim = root.appendingPathComponent("victim.txt")
        try Data("do not touch".utf8).write(to: victim)
        let started = try laptop.cli(["push", file.path, "--to", "alice-MP-1", "--direct", "--detach"], as: TransferInfo.self)
        try await phone.eventually("some data") { (try FileTransferIntegrationTests.transfer(started.id, on: phone)?.verifiedBytes ?? 0) >= 4 << 20 }
        phone.kill9()
        let staging = try #require(try FileManager.default.contentsOfDirectory(atPath: phone.received.path).first { $0.hasPrefix(".kith-partial-") })
        let part = phone.received.appendingPathComponent(staging).appendingPathComponent("0.part")
        switch planted {
        case "link":
            try FileManager.default.removeItem(at: part)
            try #require(link(victim.path, part.path) == 0)
        default:
            let handle = try FileHandle(forWritingTo: part)
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(repeating: 0xEE, count: size + (1 << 20)))
            try handle.close()
        }
        try await phone.start()
        try await laptop.eventually("complete after the restart", seconds: 90) {
            try FileTransferIntegrationTests.transfer(started.id, on: laptop)?.state == "complete"
        }
        #expect(try String(contentsOf: victim, encoding: .utf8) == "do not touch", "written through the planted link")
        #expect(try Data(contentsOf: phone.received.appendingPathComponent("big.bin")) == Data(contentsOf: file), "a wrong file landed")
        withExtendedLifetime(server) {}
    }
}

/// The racer thread's stop flag and result.
private final class Racer: @unchecked Sendable {
    var done = false
    var swaps: Int?
}
