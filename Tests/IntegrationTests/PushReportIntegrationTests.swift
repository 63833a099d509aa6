#if canImport(Glibc)
import Glibc
#endif
import Foundation
import KithAPI
import KithTestSupport
import Testing

/// What `kith push` and `kith transfers` tell the sender: the entries a push leaves out, and
/// why; what a transfer that does not move waits for, and for whom; and, with --json, JSON lines
/// that end in the transfer or an error with a code.
@Suite(.serialized, .fewAtATime) struct PushReportIntegrationTests {
    @Test func aPushThatSkipsEntriesNamesThem() async throws {
        let (server, laptop, phone, root) = try await FileTransferIntegrationTests.pair("push-skipped")
        let album = root.appendingPathComponent("album")
        try FileManager.default.createDirectory(at: album, withIntermediateDirectories: true)
        try Data("photo\n".utf8).write(to: album.appendingPathComponent("a.txt"))
        try FileManager.default.createSymbolicLink(atPath: album.appendingPathComponent("link").path, withDestinationPath: "a.txt")
        #expect(mkfifo(album.appendingPathComponent("pipe").path, 0o600) == 0)

        let human = try KithProcess.run(["push", album.path, "--to", "alice-MP-1", "--direct", "--profile", laptop.profile.path])
        #expect(human.status == 0, "\(human.stderr)")
        #expect(human.stdout.contains("skipped 2 entries"), "\(human.stdout)")
        #expect(human.stdout.contains("\(album.path)/link: a symbolic link"), "\(human.stdout)")
        #expect(human.stdout.contains("\(album.path)/pipe: a FIFO"), "\(human.stdout)")

        let json = try KithProcess.run(["push", album.path, "--to", "alice-MP-1", "--direct", "--profile", laptop.profile.path, "--json"])
        #expect(json.status == 0, "\(json.stderr)")
        let lines = try JSONCLI.lines(json.stdout)
        for line in lines { #expect(Self.wrongTransferFields(line).isEmpty) }
        let skipped = try #require(lines.first?["skipped"] as? [[String: String]])
        #expect(skipped.map { $0["path"] ?? "" }.sorted() == ["\(album.path)/link", "\(album.path)/pipe"])
        #expect(skipped.allSatisfy { !($0["reason"] ?? "").isEmpty })
        #expect(lines.last?["state"] as? String == "complete")
        let id = try #require(lines.first?["id"] as? String)
        let followed = try KithProcess.run(["transfers", "--follow", String(id.prefix(8)), "--profile", laptop.profile.path, "--json"])
        #expect(followed.status == 0)
        #expect(try JSONCLI.lines(followed.stdout).last?["state"] as? String == "complete")
        // Only what is a file or a folder landed.
        #expect(try FileManager.default.contentsOfDirectory(atPath: phone.received.appendingPathComponent("album").path) == ["a.txt"])
        withExtendedLifetime(server) {}
    }

    @Test func aStalledTransferSaysWhatItWaitsForAndARefusedOneEndsInACode() async throws {
        let (server, laptop, phone, root) = try await FileTransferIntegrationTests.pair("push-waiting")
        let file = try FileTransferIntegrationTests.randomFile(root.appendingPathComponent("report.pdf"), bytes: 100_000)
        let alice = JSONCLI(laptop.profile), phoneCLI = JSONCLI(phone.profile)

        // An offer that asks: followed with --json until the phone rejects it.
        let follow = try KithProcess(["push", file.path, "--to", "alice-MP-1", "--ask", "--profile", laptop.profile.path, "--json"],
                                     in: root, name: "push-follow")
        defer { follow.kill() }
        try await laptop.eventually("the offer to wait") { follow.stdout.contains(#""waitingFor":"for alice-MP-1 to accept""#) }
        let transfer = try #require((try alice.object(["transfers"])["transfers"] as? [[String: Any]])?.first)
        #expect(Self.wrongTransferFields(transfer).isEmpty)
        #expect(transfer["waitingFor"] as? String == "for alice-MP-1 to accept")
        #expect(try KithProcess.run(["transfers", "--profile", laptop.profile.path]).stdout.contains("waiting for alice-MP-1 to accept"))
        let id = try #require(transfer["id"] as? String)
        try await phone.eventually("the offer on the phone") {
            (try phoneCLI.object(["transfers"])["transfers"] as? [[String: Any]])?.first?["state"] as? String == "waiting"
        }
        #expect(try phoneCLI.object(["reject", String(id.prefix(8))])["state"] as? String == "rejected")
        try await laptop.eventually("the follower to end") { !follow.process.isRunning }
        let last = try #require(follow.stdout.split(separator: "\n").last.map(String.init))
        #expect(try JSONCLI.errorCode(follow.process.terminationStatus, last, stderr: follow.stderr, command: ["push"]) == "transferEnded")

        // Accepted: the transfer, typed, landing in the folder named.
        let asked = try alice.object(["push", file.path, "--to", "alice-MP-1", "--ask", "--detach"])
        let askedID = try #require(asked["id"] as? String)
        try await phone.eventually("the second offer on the phone") {
            (try phoneCLI.object(["transfers"])["transfers"] as? [[String: Any]])?.first { $0["id"] as? String == askedID }?["state"]
                as? String == "waiting"
        }
        let accepted = try phoneCLI.object(["accept", String(askedID.prefix(8)), "--to", root.appendingPathComponent("chosen").path])
        #expect(Self.wrongTransferFields(accepted).isEmpty)
        #expect(JSONType.wrong(accepted, ["folder": "s"]).isEmpty)
        try await laptop.eventually("the accepted push to complete") {
            (try alice.object(["transfers"])["transfers"] as? [[String: Any]])?.first { $0["id"] as? String == askedID }?["state"]
                as? String == "complete"
        }

        // The receiver gone: the push says it waits for it to come online, not a frozen rate.
        #expect(phone.terminate() == 0)
        let pushed = try alice.object(["push", file.path, "--to", "alice-MP-1", "--direct", "--detach"])
        try await laptop.eventually("the push to wait for the phone") {
            (try alice.object(["transfers"])["transfers"] as? [[String: Any]])?.first { $0["id"] as? String == pushed["id"] as? String }?["waitingFor"]
                as? String == "for alice-MP-1 to come online"
        }
        #expect(try KithProcess.run(["transfers", "--profile", laptop.profile.path]).stdout.contains("waiting for alice-MP-1 to come online"))
        withExtendedLifetime(server) {}
    }

    /// The documented fields of a transfer that are not of their JSON type.
    static func wrongTransferFields(_ transfer: [String: Any]) -> [String] {
        JSONType.wrong(transfer, ["id": "s", "direction": "s", "peer": "s", "state": "s", "files": "n", "names": "a", "totalBytes": "n",
                                  "verifiedBytes": "n", "requested": "s", "createdMillis": "n", "bytesPerSecond": "n?",
                                  "waitingFor": "s?", "path": "s?", "skipped": "a?"])
    }
}
