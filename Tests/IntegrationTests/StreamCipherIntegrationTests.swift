import Foundation
import KithAPI
import KithCrypto
import KithTestSupport
import Testing

/// The transport cipher of a push's stream between real agents (spec §Handshakes, Transport
/// cipher): AES-256-GCM where both have AES instructions, ChaCha20-Poly1305 when either is made to
/// behave as a machine without them (`KITH_AES=off`), directly and through the relay (where the
/// receiver answers the transit offer as the channel's responder).
@Suite(.serialized, .fewAtATime) struct StreamCipherIntegrationTests {
    @Test(arguments: [(true, true, "lan"), (true, false, "lan"), (false, true, "lan"), (true, true, "relay"), (true, false, "relay")])
    func aPushUsesAESOnlyWhereBothEndsHaveIt(senderAES: Bool, receiverAES: Bool, path: String) async throws {
        let forced = ["KITH_AES": "off"]
        let (server, laptop, phone, root) = try await FileTransferIntegrationTests.pair(
            "cipher-\(path)", laptopEnvironment: senderAES ? [:] : forced, phoneUDP: path == "relay" ? "off" : "127.0.0.1:0",
            phoneEnvironment: receiverAES ? [:] : forced, path: path)
        let file = try FileTransferIntegrationTests.randomFile(root.appendingPathComponent("photo.raw"), bytes: 3_000_000 + 77)
        let done = try FileTransferIntegrationTests.push(laptop, [file.path], to: "alice-MP-1", "--direct")
        #expect(done.state == "complete")
        #expect(done.path == path)
        let aes = senderAES && receiverAES && NoiseCipher.aesGCMInHardware
        #expect(done.cipher == (aes ? "AES-256-GCM" : "ChaCha20-Poly1305"))
        #expect(try Data(contentsOf: phone.received.appendingPathComponent("photo.raw")) == Data(contentsOf: file))
        withExtendedLifetime(server) {}
    }
}
