import Foundation
import KithAPI
import KithCrypto
import KithTestSupport
import Testing

/// The transport cipher of a push's stream between real agents (spec §Handshakes, Transport
/// cipher): AES-256-GCM where both have AES instructions, ChaCha20-Poly1305 when the receiver is
/// made to behave as a machine without them (`KITH_AES=off`), directly and through the relay.
@Suite(.serialized, .fewAtATime) struct StreamCipherIntegrationTests {
    @Test(.enabled(if: NoiseCipher.aesGCMInHardware, "this CPU has no AES instructions"),
          arguments: [(false, "lan"), (true, "lan"), (true, "relay")])
    func aPushUsesAESOnlyWhereBothEndsHaveIt(receiverWithoutAES: Bool, path: String) async throws {
        let (server, laptop, phone, root) = try await FileTransferIntegrationTests.pair(
            "cipher-\(path)", phoneUDP: path == "relay" ? "off" : "127.0.0.1:0",
            phoneEnvironment: receiverWithoutAES ? ["KITH_AES": "off"] : [:], path: path)
        let file = try FileTransferIntegrationTests.randomFile(root.appendingPathComponent("photo.raw"), bytes: 3_000_000 + 77)
        let done = try FileTransferIntegrationTests.push(laptop, [file.path], to: "alice-MP-1", "--direct")
        #expect(done.state == "complete")
        #expect(done.path == path)
        #expect(done.cipher == (receiverWithoutAES ? "ChaCha20-Poly1305" : "AES-256-GCM"))
        #expect(try Data(contentsOf: phone.received.appendingPathComponent("photo.raw")) == Data(contentsOf: file))
        withExtendedLifetime(server) {}
    }
}
