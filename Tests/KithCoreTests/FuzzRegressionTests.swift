import Foundation
import KithTestSupport
import Testing
@testable import KithCore
@testable import KithCrypto
import KithWatch
import KithWire

/// Replays the inputs kept in Tools/fuzz/FailCases through every decoder the fuzz targets
/// cover, so a crash once found stays fixed. Each decoder must answer with a value or a typed
/// error.
@Suite struct FuzzRegressionTests {
    static var cases: [URL] {
        let root = Repository.url("Tools/fuzz/FailCases")
        return (FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil)?.compactMap { $0 as? URL } ?? [])
            .filter { !$0.hasDirectoryPath && $0.lastPathComponent != "README.md" }
    }

    @Test func keptCrashersAreHandled() throws {
        let key = KeyPair(privateKey: PrivateKey(rawValue: [UInt8](repeating: 3, count: 32))!)
        for url in Self.cases {
            let bytes = [UInt8](try Data(contentsOf: url))
            _ = try? Preamble.decode(bytes[...])
            _ = try? Datagram.decode(bytes[...])
            _ = try? Envelope.decode(bytes[...])
            var frames = FrameDecoder()
            frames.append(bytes)
            while (try? frames.nextFrame()) ?? nil != nil {}
            var channel = SecureChannel(role: .responder(accepting: [.agentToServer, .pairing]), localStatic: key)
            _ = channel.start()
            _ = channel.receive(bytes)
            let text = String(decoding: bytes, as: UTF8.self)
            _ = try? Fingerprint(parsing: text)
            _ = try? Invite(parsing: text)
            _ = try? PageForm.pairs(text)
            _ = try? PageForm.target(text)
            _ = try? PageForm.cookies(named: "kith-watch-4711", in: [text])
            if let frame = try? StreamFrame.decode(bytes[...]) {
                #expect(frame.encoded() == bytes, "\(url.lastPathComponent): a stream frame did not round-trip")
            }
            if let components = try? TransferName.components(of: text) {
                #expect(!components.contains("..") && !components.contains(""))
            }
        }
        print("fuzz regression: \(Self.cases.count) kept inputs replayed")
    }
}
