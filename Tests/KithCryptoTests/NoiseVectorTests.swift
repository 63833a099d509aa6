import Foundation
import Testing
@testable import KithCrypto

/// The published Noise vectors (cacophony and snow formats) in `$KITH_NOISE_VECTORS`,
/// by default `../shared/vectors/noise/` beside the repository. Read in place, never copied.
enum NoiseVectorDirectory {
    static var url: URL {
        if let path = ProcessInfo.processInfo.environment["KITH_NOISE_VECTORS"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return repo.appendingPathComponent("../shared/vectors/noise").standardized
    }

    static var files: [URL] {
        ((try? FileManager.default.contentsOfDirectory(at: url, includingPropertiesForKeys: nil)) ?? [])
            .filter { $0.pathExtension == "json" }.sorted { $0.path < $1.path }
    }

    static var exists: Bool { !files.isEmpty }
}

/// One vector in either published format; `handshake_hash` only appears in cacophony's.
struct NoiseVector: Decodable {
    struct Message: Decodable { let payload: String; let ciphertext: String }
    let protocol_name: String
    let init_prologue: String
    let init_psks: [String]?
    let init_static: String?
    let init_ephemeral: String
    let init_remote_static: String?
    let resp_prologue: String
    let resp_psks: [String]?
    let resp_static: String?
    let resp_ephemeral: String?
    let resp_remote_static: String?
    let handshake_hash: String?
    let messages: [Message]
}

struct NoiseVectorFile: Decodable { let vectors: [NoiseVector] }

struct VectorFailure: Error, CustomStringConvertible { let description: String }

@Suite struct NoiseVectorTests {
    @Test(.enabled(if: NoiseVectorDirectory.exists,
                   "Noise vectors not found at $KITH_NOISE_VECTORS or ../shared/vectors/noise: conformance skipped"))
    func publishedVectors() throws {
        var passed = 0, failed = 0, skipped = 0
        for file in NoiseVectorDirectory.files {
            let vectors = try JSONDecoder().decode(NoiseVectorFile.self, from: Data(contentsOf: file)).vectors
            for (index, vector) in vectors.enumerated() {
                let label = "\(file.lastPathComponent)#\(index) \(vector.protocol_name)"
                do {
                    try run(vector)
                    passed += 1
                } catch NoiseError.unsupportedProtocol(let name) where !name.contains("25519_ChaChaPoly_BLAKE2b") {
                    skipped += 1
                    print("noise vector skipped (suite not supported): \(label)")
                } catch {
                    failed += 1
                    Issue.record("noise vector failed: \(label): \(error)")
                }
            }
        }
        print("noise vectors: \(passed) passed, \(failed) failed" + (skipped > 0 ? ", \(skipped) skipped" : ""))
        #expect(failed == 0)
        #expect(passed > 0)
    }

    private func run(_ v: NoiseVector) throws {
        func bytes(_ hex: String?) throws -> [UInt8]? {
            guard let hex else { return nil }
            guard let b = [UInt8](hexString: hex) else { throw VectorFailure(description: "bad hex") }
            return b
        }
        func keyPair(_ hex: String?) throws -> KeyPair? {
            try bytes(hex).map { KeyPair(privateKey: PrivateKey(rawValue: $0)!) }
        }
        let name = try NoiseProtocolName(v.protocol_name)
        func handshake(_ role: NoiseHandshake.Role, prologue: String, psks: [String]?, s: String?,
                       e: String?, rs: String?) throws -> NoiseHandshake {
            let ephemeral = try keyPair(e)
            return try NoiseHandshake(.init(
                protocolName: name, role: role, prologue: try bytes(prologue)!,
                localStatic: try keyPair(s), remoteStatic: try bytes(rs).map { PublicKey(rawValue: $0)! },
                preSharedKeys: try (psks ?? []).map { SecretBytes(try bytes($0)!) },
                ephemeralSource: { ephemeral ?? .generate() }))
        }
        var initiator = try handshake(.initiator, prologue: v.init_prologue, psks: v.init_psks, s: v.init_static,
                                      e: v.init_ephemeral, rs: v.init_remote_static)
        var responder = try handshake(.responder, prologue: v.resp_prologue, psks: v.resp_psks, s: v.resp_static,
                                      e: v.resp_ephemeral, rs: v.resp_remote_static)
        var transports: (NoiseTransport, NoiseTransport)?
        for (i, message) in v.messages.enumerated() {
            let payload = try bytes(message.payload)!, expected = try bytes(message.ciphertext)!
            let initiatorSends = name.pattern.isOneWay || i % 2 == 0
            let ciphertext: [UInt8], received: [UInt8]
            if var (ti, tr) = transports {
                if initiatorSends {
                    ciphertext = try ti.send!.encrypt(plaintext: payload)
                    received = try tr.receive!.decrypt(ciphertext: ciphertext)
                } else {
                    ciphertext = try tr.send!.encrypt(plaintext: payload)
                    received = try ti.receive!.decrypt(ciphertext: ciphertext)
                }
                transports = (ti, tr)
            } else if initiatorSends {
                ciphertext = try initiator.writeMessage(payload: payload)
                received = try responder.readMessage(ciphertext)
            } else {
                ciphertext = try responder.writeMessage(payload: payload)
                received = try initiator.readMessage(ciphertext)
            }
            guard ciphertext == expected else {
                throw VectorFailure(description: "message \(i): ciphertext \(ciphertext.hexString) != \(expected.hexString)")
            }
            guard received == payload else { throw VectorFailure(description: "message \(i): payload mismatch") }
            if transports == nil, let ti = initiator.transport, let tr = responder.transport {
                guard ti.handshakeHash == tr.handshakeHash else { throw VectorFailure(description: "h differs") }
                if let h = try bytes(v.handshake_hash), h != ti.handshakeHash {
                    throw VectorFailure(description: "handshake hash \(ti.handshakeHash.hexString) != \(h.hexString)")
                }
                transports = (ti, tr)
            }
        }
        guard transports != nil else { throw VectorFailure(description: "handshake never completed") }
    }
}
