import KithCore
import KithCrypto
import KithTestSupport
import KithWire
import Testing

/// What stands between a UDP handshake flood and the responder's Diffie-Hellmans (spec §UDP
/// packets, Type 1 and Handshake over UDP): mac1, then a rate per source address.
@Suite struct HandshakeFloodTests {
    struct MACVector: Decodable, CustomTestStringConvertible {
        struct Meaning: Decodable { let macKey: String, mac1: String }
        let tcId: Int, comment: String, result: String, hex: String, responder: String
        let meaning: Meaning?
        var testDescription: String { "#\(tcId) \(comment)" }
    }

    @Test(arguments: try VectorFile<MACVector>.load("handshake-mac.json"))
    func macVectors(_ v: MACVector) throws {
        let responder = try #require(PublicKey(rawValue: [UInt8](vectorHex: v.responder)))
        let packet = [UInt8](vectorHex: v.hex)
        let mac = HandshakeMAC(responder: responder)
        #expect(mac.verifies(packet[...]) == (v.result == "valid"))
        if let meaning = v.meaning {
            #expect(mac.mac(packet.dropLast(HandshakeMAC.length)) == [UInt8](vectorHex: meaning.mac1))
        }
    }

    @Test func anInitiationVerifiesOnlyForTheKeyItWasMadeFor() throws {
        let (alice, bob, carol) = (KeyPair.generate(), KeyPair.generate(), KeyPair.generate())
        let (packet, _) = try DeviceHandshake.initiate(localKeys: alice, peerKey: bob.publicKey, localIndex: 9, nowMillis: 1)
        #expect(packet.count == 128)
        #expect(HandshakeMAC(responder: bob.publicKey).verifies(packet[...]))
        #expect(!HandshakeMAC(responder: carol.publicKey).verifies(packet[...]), "made for bob: carol drops it before any DH")
        var tampered = packet
        tampered[40] ^= 1
        #expect(!HandshakeMAC(responder: bob.publicKey).verifies(tampered[...]))
        #expect(!HandshakeMAC(responder: bob.publicKey).verifies(packet.prefix(10)))
    }

    @Test func eachSourceGetsItsBurstThenItsRate() {
        var limit = HandshakeRateLimit(perSecond: 10, burst: 20)
        let burst = (0..<25).filter { _ in limit.allow("10.0.0.1", nowMillis: 1000) }.count
        #expect(burst == 20)
        let other = limit.allow("10.0.0.2", nowMillis: 1000)
        #expect(other, "another address has its own bucket")
        let tooSoon = limit.allow("10.0.0.1", nowMillis: 1050)
        let refilled = limit.allow("10.0.0.1", nowMillis: 1100)
        let again = limit.allow("10.0.0.1", nowMillis: 1100)
        #expect(!tooSoon && refilled && !again, "one token back after 100 ms")
        let later = (0..<25).filter { _ in limit.allow("10.0.0.1", nowMillis: 60_000) }.count
        #expect(later == 20, "full again, never more than the burst")
    }

    @Test func quietAddressesAreForgottenWhenManyHaveBeenSeen() {
        var limit = HandshakeRateLimit(perSecond: 10, burst: 20)
        for n in 0..<5000 { _ = limit.allow("10.1.\(n / 256).\(n % 256)", nowMillis: 0) }
        // Long after, every bucket is full again: a new address is still answered.
        let answered = limit.allow("10.9.9.9", nowMillis: 100_000)
        #expect(answered)
    }
}

/// The cookie under load (spec §UDP packets, Types 6 and 7): the vectors, and the gate's decisions.
@Suite struct HandshakeCookieTests {
    struct CookieVector: Decodable, CustomTestStringConvertible {
        struct Meaning: Decodable {
            let kind: String, cookie: String
            let sealingKey: String?, nonce: String?, receiverIndex: UInt32?, senderIndex: UInt32?, mac2: String?
        }
        let tcId: Int, comment: String, result: String, hex: String, responder: String, secret: String, source: String
        let mac1: String?, meaning: Meaning?, error: String?
        var testDescription: String { "#\(tcId) \(comment)" }
    }

    static func address(_ text: String) -> EndpointAddress {
        let (host, port) = (text.split(separator: ":")[0], UInt16(text.split(separator: ":")[1])!)
        return EndpointAddress(ip: host.split(separator: ".").map { UInt8($0)! }, port: port)
    }

    /// A gate under load from its first initiation, whose randomness is the vector's secret and nonce.
    static func gate(_ v: CookieVector, nonce: [UInt8] = [UInt8](repeating: 0, count: 24)) throws -> HandshakeGate {
        let responder = try #require(PublicKey(rawValue: [UInt8](vectorHex: v.responder)))
        let secret = [UInt8](vectorHex: v.secret)
        return HandshakeGate(responder: responder, loadThreshold: 1) { $0 == HandshakeCookie.secretLength ? secret : nonce }
    }

    @Test(arguments: try VectorFile<CookieVector>.load("handshake-cookie.json"))
    func cookieVectors(_ v: CookieVector) throws {
        let responder = try #require(PublicKey(rawValue: [UInt8](vectorHex: v.responder)))
        let packet = [UInt8](vectorHex: v.hex)
        let source = Self.address(v.source)
        switch try Datagram.decode(packet[...]) {
        case let .cookieReply(receiverIndex, nonce, sealed):
            var jar = CookieJar()
            let taken = jar.take(nonce: nonce, sealedCookie: sealed, responder: responder, mac1: [UInt8](vectorHex: v.mac1!),
                                 address: v.source, nowMillis: 0)
            #expect(taken == (v.result == "valid"))
            guard let m = v.meaning else { return }
            #expect(receiverIndex == m.receiverIndex && nonce == [UInt8](vectorHex: m.nonce!))
            #expect(jar.cookie(for: v.source, nowMillis: 1) == [UInt8](vectorHex: m.cookie))
            #expect(HandshakeCookie.sealingKey(responder: responder) == [UInt8](vectorHex: m.sealingKey!))
            #expect(HandshakeCookie.cookie(secret: [UInt8](vectorHex: v.secret), source: HandshakeGate.bytes(of: source))
                    == [UInt8](vectorHex: m.cookie))
            // The gate under load makes exactly this reply to the initiation of handshake-mac.json #1.
            let initiation = try #require(try VectorFile<HandshakeFloodTests.MACVector>.load("handshake-mac.json").first)
            var gate = try Self.gate(v, nonce: nonce)
            let verdict = gate.weigh([UInt8](vectorHex: initiation.hex)[...], from: source, nowMillis: 5)
            #expect(verdict == .cookieReply(packet))
        case let .cookiedInitiation(senderIndex, rest):
            var gate = try Self.gate(v)
            let verdict = gate.weigh(packet[...], from: source, nowMillis: 5)
            if v.result == "valid" {
                #expect(verdict == .answer)
                #expect(senderIndex == v.meaning?.senderIndex && Array(rest.suffix(16)) == [UInt8](vectorHex: v.meaning!.mac2!))
            } else {
                guard case .cookieReply = verdict else { Issue.record("under load, a wrong cookie got \(verdict)"); return }
            }
        default:
            Issue.record("not a cookie datagram")
        }
    }

    @Test func underLoadOnlyAnInitiationWithItsAddresssCookieIsAnswered() throws {
        let (alice, bob) = (KeyPair.generate(), KeyPair.generate())
        var gate = HandshakeGate(responder: bob.publicKey, loadThreshold: 5, random: secureRandomBytes)
        let laptop = EndpointAddress(ip: [10, 0, 0, 1], port: 4000)
        let (plain, pending) = try DeviceHandshake.initiate(localKeys: alice, peerKey: bob.publicKey, localIndex: 7, nowMillis: 1)
        let quiet = (0..<4).map { _ in gate.weigh(plain[...], from: laptop, nowMillis: 100) }
        #expect(quiet.allSatisfy { $0 == .answer }, "not under load: no cookie needed")

        // The fifth initiation in a second puts the gate under load: a cookie instead of a handshake.
        guard case .cookieReply(let reply) = gate.weigh(plain[...], from: laptop, nowMillis: 200),
              case let .cookieReply(receiverIndex, nonce, sealed) = try Datagram.decode(reply[...])
        else { Issue.record("no cookie under load"); return }
        #expect(receiverIndex == 7 && reply.count < plain.count, "the reply names the initiation and is smaller than it")
        var jar = CookieJar()
        let taken = jar.take(nonce: nonce, sealedCookie: sealed, responder: bob.publicKey, mac1: pending.mac1,
                             address: "10.0.0.1:4000", nowMillis: 200)
        #expect(taken)
        let cookie = try #require(jar.cookie(for: "10.0.0.1:4000", nowMillis: 300))

        let (cookied, _) = try DeviceHandshake.initiate(localKeys: alice, peerKey: bob.publicKey, localIndex: 8, nowMillis: 2,
                                                        cookie: cookie)
        #expect(cookied.first == 7 && cookied.count == plain.count + 16)
        #expect(gate.weigh(cookied[...], from: laptop, nowMillis: 300) == .answer)
        let elsewhere = gate.weigh(cookied[...], from: EndpointAddress(ip: [10, 0, 0, 9], port: 4000), nowMillis: 300)
        guard case .cookieReply = elsewhere else { Issue.record("a cookie worked from another address"); return }
        // Still taken after the secret changed once; not after it changed twice.
        func underLoadAt(_ time: UInt64) { for _ in 0..<5 { _ = gate.weigh(plain[...], from: laptop, nowMillis: time) } }
        let (once, twice) = (300 + HandshakeGate.secretLifetimeMillis, 300 + 2 * HandshakeGate.secretLifetimeMillis)
        underLoadAt(once)
        #expect(gate.weigh(cookied[...], from: laptop, nowMillis: once) == .answer)
        underLoadAt(twice)
        guard case .cookieReply = gate.weigh(cookied[...], from: laptop, nowMillis: twice) else {
            Issue.record("a cookie outlived two secrets"); return
        }
        #expect(jar.cookie(for: "10.0.0.1:4000", nowMillis: 200 + CookieJar.keptMillis) == nil, "the initiator lets it go first")
    }

    @Test func theLoadPassesAndTheRateStillHolds() throws {
        let (alice, bob) = (KeyPair.generate(), KeyPair.generate())
        var gate = HandshakeGate(responder: bob.publicKey, loadThreshold: 100, rate: HandshakeRateLimit(perSecond: 10, burst: 3),
                                 random: secureRandomBytes)
        let (plain, _) = try DeviceHandshake.initiate(localKeys: alice, peerKey: bob.publicKey, localIndex: 7, nowMillis: 1)
        let source = EndpointAddress(ip: [10, 0, 0, 1], port: 4000)
        let anotherPort = EndpointAddress(ip: [10, 0, 0, 1], port: 4001)
        let verdicts = (0..<3).map { _ in gate.weigh(plain[...], from: source, nowMillis: 0) }
            + [gate.weigh(plain[...], from: anotherPort, nowMillis: 0)]
        #expect(verdicts == [.answer, .answer, .answer, .drop(.overRate)], "another port of one host is the same source")
        let wrongKey = try DeviceHandshake.initiate(localKeys: alice, peerKey: KeyPair.generate().publicKey, localIndex: 1,
                                                    nowMillis: 1).0
        #expect(gate.weigh(wrongKey[...], from: source, nowMillis: 0) == .drop(.wrongMAC))
        #expect(gate.weigh(plain.prefix(30), from: source, nowMillis: 0) == .drop(.wrongMAC))
        #expect(!gate.underLoad(nowMillis: 5000), "quiet after two seconds without initiations")
    }
}
