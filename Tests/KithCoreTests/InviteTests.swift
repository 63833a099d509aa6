import KithCrypto
import Testing
@testable import KithCore

@Suite struct InviteTests {
    static let key = DeviceIdentity(seed: [UInt8](repeating: 7, count: 32))!.publicKey

    @Test func roundTripsForNamesIPv4AndIPv6() throws {
        for host in ["127.0.0.1", "kith.example", "::1"] {
            let invite = Invite(host: host, port: 7400, key: Self.key)
            #expect(try Invite(parsing: invite.description) == invite)
        }
        #expect(Invite(host: "::1", port: 1, key: Self.key).description.hasPrefix("kith://[::1]:1/#"))
    }

    @Test(arguments: [
        ("http://127.0.0.1:7400/#00", Invite.ParseError.notAnInvite),
        ("kith://127.0.0.1:7400/", .notAnInvite),
        ("kith://127.0.0.1:+443/#KEY", .badAddress),
        ("kith://127.0.0.1:0/#KEY", .badAddress),
        ("kith://127.0.0.1:65536/#KEY", .badAddress),
        ("kith://::1:7400/#KEY", .badAddress),
        ("kith://user@host:7400/#KEY", .badAddress),
        ("kith://:7400/#KEY", .badAddress),
        ("kith://127.0.0.1:7400/#abcd", .badKey),
    ])
    func refusesWhatIsNotAnInvite(_ text: String, _ error: Invite.ParseError) {
        let full = text.replacingOccurrences(of: "KEY", with: Self.key.rawValue.hexString)
        #expect(throws: error) { _ = try Invite(parsing: full) }
    }

    @Test func listenAddressesMayUsePortZero() throws {
        #expect(try HostPort(parsing: "127.0.0.1:0", allowPortZero: true) == HostPort(host: "127.0.0.1", port: 0))
        #expect(try HostPort(parsing: "[::1]:7400") == HostPort(host: "::1", port: 7400))
        #expect(throws: HostPort.ParseError.self) { _ = try HostPort(parsing: "127.0.0.1:0") }
        #expect(throws: HostPort.ParseError.self) { _ = try HostPort(parsing: "127.0.0.1") }
        #expect(throws: HostPort.ParseError.self) { _ = try HostPort(parsing: "127.0.0.1:७४") }
    }
}
