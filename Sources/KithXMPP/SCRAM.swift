import Crypto
import Foundation

/// Why a SCRAM exchange was given up. The password never leaves the machine in any of them.
public enum SCRAMError: Error, Equatable, Sendable {
    /// The server's first message lacks `r`, `s` or `i`, or is not base64 where it must be.
    case malformedChallenge(String)
    /// The server's nonce does not extend ours: a replayed or foreign exchange.
    case nonceMismatch
    /// More PBKDF2 iterations than `SCRAMClient.maxIterations` (a server could ask for billions
    /// and hold the agent's CPU), or fewer than RFC 5802's 4096.
    case iterationsOutOfRange(Int)
    /// The server's final signature is wrong: it does not know the password; do not trust it.
    case serverNotAuthenticated
    /// The server sent `e=…` in its final message.
    case serverError(String)
}

/// The client side of SCRAM-SHA-1 (RFC 5802, as XMPP uses it: RFC 6120 §6.3.8, no channel
/// binding, gs2 header `n,,`). A value type driven step by step, with the client nonce injected so
/// the RFC's own example is its test. SHA-1 here is what the mechanism is defined with and what
/// Prosody stores for `internal_hashed`; it is not used as a collision-resistant hash.
public struct SCRAMClient: Sendable {
    public static let mechanism = "SCRAM-SHA-1"
    /// Prosody uses 10,000 by default; a million costs well under a second.
    public static let maxIterations = 1_000_000

    public let username: String
    private let password: String
    private let clientNonce: String
    private var expectedServerSignature: [UInt8]?

    /// `clientNonce`: printable ASCII without `,` (this client uses 24 random bytes in base64).
    public init(username: String, password: String, clientNonce: String) {
        self.username = username
        self.password = password
        self.clientNonce = clientNonce
    }

    /// A fresh client nonce: 18 random bytes, base64 (24 characters, no `,`).
    public static func randomNonce() -> String {
        var generator = SystemRandomNumberGenerator()
        return Data((0..<18).map { _ in UInt8.random(in: 0...255, using: &generator) }).base64EncodedString()
    }

    private var firstBare: String { "n=\(Self.saslName(username)),r=\(clientNonce)" }

    /// The client's first message, sent in `<auth mechanism='SCRAM-SHA-1'>` (base64 of this).
    public var clientFirst: String { "n,," + firstBare }

    /// The answer to the server's first message: the client's final message, with its proof.
    public mutating func respond(to serverFirst: String) throws(SCRAMError) -> String {
        let fields = Self.fields(serverFirst)
        guard let nonce = fields["r"], let saltText = fields["s"], let iterationText = fields["i"] else {
            throw .malformedChallenge(serverFirst)
        }
        guard nonce.hasPrefix(clientNonce), nonce.count > clientNonce.count else { throw .nonceMismatch }
        guard let salt = Data(base64Encoded: saltText), !salt.isEmpty else { throw .malformedChallenge("salt \(saltText)") }
        guard let iterations = Int(iterationText) else { throw .malformedChallenge("iterations \(iterationText)") }
        guard (4096...Self.maxIterations).contains(iterations) else { throw .iterationsOutOfRange(iterations) }

        let salted = Self.hi(password: Array(password.utf8), salt: Array(salt), iterations: iterations)
        let clientKey = Self.hmac(salted, "Client Key")
        let storedKey = Array(Insecure.SHA1.hash(data: clientKey))
        let withoutProof = "c=biws,r=\(nonce)"
        let authMessage = firstBare + "," + serverFirst + "," + withoutProof
        let clientSignature = Self.hmac(storedKey, authMessage)
        let proof = zip(clientKey, clientSignature).map { $0 ^ $1 }
        expectedServerSignature = Self.hmac(Self.hmac(salted, "Server Key"), authMessage)
        return withoutProof + ",p=" + Data(proof).base64EncodedString()
    }

    /// Checks the server's final message (from `<success>`): the server proves it knew the
    /// password too. Only after this is the session trusted.
    public func verify(serverFinal: String) throws(SCRAMError) {
        let fields = Self.fields(serverFinal)
        if let error = fields["e"] { throw .serverError(error) }
        guard let expected = expectedServerSignature, let text = fields["v"],
              let signature = Data(base64Encoded: text), Array(signature) == expected
        else { throw .serverNotAuthenticated }
    }

    /// RFC 5802 §2.2 Hi(): PBKDF2 with HMAC-SHA-1 and one block of output.
    static func hi(password: [UInt8], salt: [UInt8], iterations: Int) -> [UInt8] {
        let key = SymmetricKey(data: password)
        var u = Array(HMAC<Insecure.SHA1>.authenticationCode(for: salt + [0, 0, 0, 1], using: key))
        var result = u
        for _ in 1..<iterations {
            u = Array(HMAC<Insecure.SHA1>.authenticationCode(for: u, using: key))
            for i in result.indices { result[i] ^= u[i] }
        }
        return result
    }

    private static func hmac(_ key: [UInt8], _ message: String) -> [UInt8] {
        Array(HMAC<Insecure.SHA1>.authenticationCode(for: Array(message.utf8), using: SymmetricKey(data: key)))
    }

    /// RFC 5802 §5.1: `=` and `,` in a name are written `=3D` and `=2C`.
    static func saslName(_ name: String) -> String {
        name.replacingOccurrences(of: "=", with: "=3D").replacingOccurrences(of: ",", with: "=2C")
    }

    private static func fields(_ message: String) -> [String: String] {
        var out: [String: String] = [:]
        for part in message.split(separator: ",", omittingEmptySubsequences: true) {
            guard part.count >= 2, part.dropFirst().first == "=" else { continue }
            let key = String(part.prefix(1))
            if out[key] == nil { out[key] = String(part.dropFirst(2)) }
        }
        return out
    }
}
