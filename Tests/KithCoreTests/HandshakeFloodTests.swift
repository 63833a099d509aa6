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
