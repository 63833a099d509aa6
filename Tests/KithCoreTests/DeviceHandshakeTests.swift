import KithCore
import KithCrypto
import KithWire
import Testing

/// The IK handshake over UDP between two devices, both ways, and what it refuses.
struct DeviceHandshakeTests {
    let alice = KeyPair.generate(), bob = KeyPair.generate()

    @Test func aHandshakeOpensASessionBothWays() throws {
        let (initiation, pending) = try DeviceHandshake.initiate(localKeys: alice, peerKey: bob.publicKey, localIndex: 7, nowMillis: 1234)
        guard case let .handshakeInitiation(senderIndex, message) = try Datagram.decode(initiation[...]) else {
            Issue.record("not an initiation"); return
        }
        let read = try DeviceHandshake.read(initiation: senderIndex, message: message, localKeys: bob)
        #expect(read.peerKey == alice.publicKey && read.timestamp == 1234)
        let (response, bobSession) = try DeviceHandshake.respond(to: read, localIndex: 9)
        guard case let .handshakeResponse(responder, receiver, reply) = try Datagram.decode(response[...]) else {
            Issue.record("not a response"); return
        }
        #expect(receiver == 7)
        var aliceSession = try DeviceHandshake.complete(pending, senderIndex: responder, message: reply)
        var bobs = bobSession
        let packet = try aliceSession.seal(Array("hello".utf8))
        guard case let .transportData(index, counter, ciphertext) = try Datagram.decode(packet[...]) else { return }
        #expect(try bobs.open(receiverIndex: index, counter: counter, ciphertext: ciphertext) == Array("hello".utf8))
        let back = try bobs.seal(Array("hi".utf8))
        guard case let .transportData(i2, c2, t2) = try Datagram.decode(back[...]) else { return }
        #expect(try aliceSession.open(receiverIndex: i2, counter: c2, ciphertext: t2) == Array("hi".utf8))
    }

    @Test func anInitiationForAnotherKeyOrTamperedDoesNotRead() throws {
        let (initiation, _) = try DeviceHandshake.initiate(localKeys: alice, peerKey: bob.publicKey, localIndex: 1, nowMillis: 1)
        guard case let .handshakeInitiation(sender, message) = try Datagram.decode(initiation[...]) else { return }
        #expect(throws: (any Error).self) { _ = try DeviceHandshake.read(initiation: sender, message: message, localKeys: KeyPair.generate()) }
        var tampered = message
        tampered[tampered.count - 1 - HandshakeMAC.length] ^= 1  // the Noise message's last byte (mac1 follows)
        #expect(throws: (any Error).self) { _ = try DeviceHandshake.read(initiation: sender, message: tampered, localKeys: bob) }
        #expect(throws: (any Error).self) { _ = try DeviceHandshake.read(initiation: sender, message: Array(message.prefix(40)), localKeys: bob) }
    }

    @Test func aResponseForAnotherInitiationDoesNotComplete() throws {
        let (first, pending) = try DeviceHandshake.initiate(localKeys: alice, peerKey: bob.publicKey, localIndex: 1, nowMillis: 1)
        let (second, _) = try DeviceHandshake.initiate(localKeys: alice, peerKey: bob.publicKey, localIndex: 2, nowMillis: 2)
        _ = first
        guard case let .handshakeInitiation(sender, message) = try Datagram.decode(second[...]) else { return }
        let (response, _) = try DeviceHandshake.respond(to: try DeviceHandshake.read(initiation: sender, message: message, localKeys: bob),
                                                        localIndex: 5)
        guard case let .handshakeResponse(responder, _, reply) = try Datagram.decode(response[...]) else { return }
        #expect(throws: (any Error).self) { _ = try DeviceHandshake.complete(pending, senderIndex: responder, message: reply) }
    }
}
