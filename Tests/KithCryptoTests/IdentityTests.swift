import KithTestSupport
import Testing
@testable import KithCrypto

@Suite struct IdentityTests {
    struct Vector: Decodable, CustomTestStringConvertible {
        let tcId: Int
        let comment: String
        let result: String
        let seed: String?
        let ed25519Public: String?
        let x25519Public: String?
        let fingerprint: String?
        let text: String?
        let error: String?
        var testDescription: String { "#\(tcId) \(comment)" }
    }

    @Test(arguments: try VectorFile<Vector>.load("identity.json"))
    func vectors(_ v: Vector) throws {
        if let seed = v.seed {
            let identity = try #require(DeviceIdentity(seed: [UInt8](vectorHex: seed)))
            #expect(identity.publicKey.rawValue.hexString == v.ed25519Public)
            #expect(identity.publicKey.noisePublicKey?.rawValue.hexString == v.x25519Public)
            #expect(identity.noiseKeyPair.publicKey.rawValue.hexString == v.x25519Public)
            #expect(identity.publicKey.fingerprint.description == v.fingerprint)
        } else if v.result == "valid" {
            #expect(try Fingerprint(parsing: v.text!).description == v.fingerprint)
        } else {
            #expect(Self.parseError(v.text!) == v.error)
        }
    }

    static func parseError(_ text: String) -> String {
        do {
            _ = try Fingerprint(parsing: text)
            return "none"
        } catch {
            return switch error {
            case .invalidCharacter: "invalidCharacter"
            case .wrongLength: "wrongLength"
            case .checkSymbolMismatch: "checkSymbolMismatch"
            }
        }
    }

    @Test func signaturesVerifyOnlyForTheirMessageAndKey() {
        let identity = DeviceIdentity.generate(), other = DeviceIdentity.generate()
        let message = Array("roster v1".utf8)
        let signature = identity.sign(message)
        #expect(identity.publicKey.isValidSignature(signature, for: message))
        #expect(!identity.publicKey.isValidSignature(signature, for: message + [0]))
        #expect(!other.publicKey.isValidSignature(signature, for: message))
        #expect(!identity.publicKey.isValidSignature(Array(signature.dropLast()), for: message))
        #expect(DeviceIdentity(seed: identity.unsafeSeed)?.publicKey == identity.publicKey)
    }

    /// The check symbol catches every single-symbol substitution, and most swaps of neighbours.
    @Test func checkSymbolCatchesTypos() {
        var random = SplitMix64(seed: 1)
        var swapsCaught = 0, swapsTried = 0
        for _ in 0..<50 {
            let key = SigningPublicKey(rawValue: (0..<32).map { _ in UInt8(truncatingIfNeeded: random.next()) })!
            let good = key.fingerprint.symbols
            for position in good.indices {
                for replacement in UInt8(0)..<32 where replacement != good[position] {
                    var typo = good
                    typo[position] = replacement
                    #expect(Fingerprint.checkSymbol(for: Array(typo.prefix(19))) != typo[19])
                }
            }
            for position in 0..<18 where good[position] != good[position + 1] {
                var swapped = good
                swapped.swapAt(position, position + 1)
                swapsTried += 1
                if Fingerprint.checkSymbol(for: Array(swapped.prefix(19))) != swapped[19] { swapsCaught += 1 }
            }
        }
        #expect(Double(swapsCaught) / Double(swapsTried) > 0.9)
    }
}
