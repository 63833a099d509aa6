import Foundation
import KithAPI
import KithTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The profile's settings (`kith config`, PROFILE/config.toml): a restart keeps them, a flag wins
/// for one run, and a bad value — set or written by hand — is refused with the setting named.
@Suite(.serialized, .fewAtATime) struct ConfigIntegrationTests {
    @Test func settingsPersistAndAFlagWinsForOneRun() async throws {
        let root = temporaryDirectory("config")
        let profile = root.appendingPathComponent("laptop").path
        let port = try Self.freeUDPPort()
        for (key, value) in [("udp", "127.0.0.1:\(port)"), ("lan-discovery", "false"), ("receive-siblings", "ask")] {
            let set = try KithProcess.run(["config", "set", key, value, "--profile", profile])
            #expect(set.status == 0, "\(set.stderr)")
        }
        let refused = try KithProcess.run(["config", "set", "max-send-rate", "fast", "--profile", profile])
        #expect(refused.status == 1 && refused.stderr.contains("max-send-rate"), "\(refused.stderr)")
        #expect(try KithProcess.run(["config", "get", "max-send-rate", "--profile", profile]).stdout.contains("is not set"))

        // The settings, at every start: the account's UDP socket binds where config.toml says...
        let server = try await ServerHarness.start()
        for run in 0..<2 {
            let agent = try KithProcess(["agent", "--profile", profile, "--foreground"], in: root, name: "agent")
            _ = try await agent.waitForLine(startingWith: "agent running")
            if run == 0 {
                let login = try KithProcess.run(["login", server.invite.description, "--account", "alice", "--profile", profile],
                                                stdin: "correct horse\n")
                #expect(login.status == 0, "\(login.stderr)")
            }
            try await Self.eventually { Self.log(profile).contains("UDP for direct paths") }
            #expect(Self.log(profile).contains("UDP for direct paths on [IPv4]127.0.0.1/127.0.0.1:\(port)"), "\(Self.log(profile))")
            #expect(agent.terminate() == 0)
            try FileManager.default.removeItem(atPath: profile + "/agent.log")
        }
        // ...unless a flag says otherwise, for that run only.
        let other = try Self.freeUDPPort()
        let flagged = try KithProcess(["agent", "--profile", profile, "--foreground", "--udp", "127.0.0.1:\(other)"], in: root, name: "agent")
        _ = try await flagged.waitForLine(startingWith: "agent running")
        try await Self.eventually { Self.log(profile).contains("UDP for direct paths") }
        #expect(Self.log(profile).contains("127.0.0.1:\(other)"), "\(Self.log(profile))")
        #expect(flagged.terminate() == 0)

        // A hand-edited file with a bad value: the agent does not start, and says which setting.
        try Data("udp = 7401\n".utf8).write(to: URL(fileURLWithPath: profile + "/config.toml"))
        let bad = try KithProcess.run(["agent", "--profile", profile, "--foreground"])
        #expect(bad.status != 0 && bad.stderr.contains("udp must be a string"), "\(bad.stderr)")
    }

    static func eventually(_ condition: () -> Bool) async throws {
        for _ in 0..<200 where !condition() { try await Task.sleep(for: .milliseconds(50)) }
    }

    static func log(_ profile: String) -> String {
        (try? String(contentsOfFile: profile + "/agent.log", encoding: .utf8)) ?? ""
    }

    /// A UDP port nothing listens on now.
    static func freeUDPPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
