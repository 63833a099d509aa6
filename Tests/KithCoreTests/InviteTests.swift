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
        ("kith://a:1,/#KEY", .badAddress),
        ("kith://a:1,,b:2/#KEY", .badAddress),
        ("kith://a,b:2/#KEY", .badAddress),
        ("kith://a:1,b/#KEY", .badAddress),
        ("kith://a:1,b:2,c:3,d:4,e:5,f:6,g:7,h:8,i:9/#KEY", .tooManyAddresses),
    ])
    func refusesWhatIsNotAnInvite(_ text: String, _ error: Invite.ParseError) {
        let full = text.replacingOccurrences(of: "KEY", with: Self.key.rawValue.hexString)
        #expect(throws: error) { _ = try Invite(parsing: full) }
    }

    @Test func severalAddressesAreInstancesOfOneServerInTheOrderGiven() throws {
        let text = "kith://b.example:7401,[::1]:7400,10.0.0.1:7400,b.example:7401/#" + Self.key.rawValue.hexString
        let invite = try Invite(parsing: text)
        #expect(invite.addresses == [HostPort(host: "b.example", port: 7401), HostPort(host: "::1", port: 7400),
                                     HostPort(host: "10.0.0.1", port: 7400)], "in order, each once")
        #expect((invite.host, invite.port) == ("b.example", 7401))
        #expect(invite.description == "kith://b.example:7401,[::1]:7400,10.0.0.1:7400/#" + Self.key.rawValue.hexString)
        #expect(try Invite(parsing: invite.description) == invite)
        // What a parser of one address (before several) makes of it: the last colon's port, and a
        // host with a colon in it, which it refuses as it refuses any bad address.
        #expect(throws: HostPort.ParseError.self) { _ = try HostPort(parsing: "a.example:7400,b.example:7400") }
    }

    @Test func listenAddressesMayUsePortZero() throws {
        #expect(try HostPort(parsing: "127.0.0.1:0", allowPortZero: true) == HostPort(host: "127.0.0.1", port: 0))
        #expect(try HostPort(parsing: "[::1]:7400") == HostPort(host: "::1", port: 7400))
        #expect(throws: HostPort.ParseError.self) { _ = try HostPort(parsing: "127.0.0.1:0") }
        #expect(throws: HostPort.ParseError.self) { _ = try HostPort(parsing: "127.0.0.1") }
        #expect(throws: HostPort.ParseError.self) { _ = try HostPort(parsing: "127.0.0.1:७४") }
    }
}
