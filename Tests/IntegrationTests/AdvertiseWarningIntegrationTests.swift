#if canImport(Glibc)
import Glibc
#endif
import Foundation
import KithTestSupport
import Testing

/// A server listening on every interface without `--advertise` prints a warning and how to get
/// an invite, never an invite that names 0.0.0.0. The listener is opened only inside a network
/// namespace made for the test (so nothing listens on the host's interfaces), removed after.
@Suite(.serialized, .fewAtATime, .enabled(if: Netlab.unavailable == nil, "the network lab needs root, ip netns and nft"))
struct AdvertiseWarningIntegrationTests {
    @Test func everyInterfaceWithoutAdvertiseGivesAWarningNotA0000Invite() async throws {
        let namespace = "kith-adv-\(getpid())"
        #expect(try Netlab.shell(["ip", "netns", "add", namespace]) == 0)
        defer { _ = try? Netlab.shell(["ip", "netns", "delete", namespace]) }
        #expect(try Netlab.shell(["ip", "-n", namespace, "link", "set", "lo", "up"]) == 0)

        let data = temporaryDirectory("advertise-any")
        let server = try KithProcess(["netns", "exec", namespace, KithProcess.executable.path, "server", "--data", data.path,
                                      "--listen", "0.0.0.0:0"],
                                     in: data, name: "server", executable: URL(fileURLWithPath: "/usr/sbin/ip"))
        defer { server.kill() }
        let line = try await server.waitForLine(startingWith: "no invite: ")
        #expect(line.contains("--advertise HOST"), "\(line)")
        #expect(line.contains("kith://HOST:"), "\(line)")
        #expect(!server.stdout.contains("invite: kith://") && !server.stdout.contains("kith://0.0.0.0"), "\(server.stdout)")
        #expect(server.stderr.contains("warning: listening on every interface"), "\(server.stderr)")
        #expect(server.terminate() == 0)
    }
}
