import CSodium

/// Passwords as the server stores them: argon2id strings from libsodium's `crypto_pwhash_str`,
/// which carry their own salt and cost parameters, so a later change of cost keeps old hashes
/// verifiable.
public enum PasswordHash {
    /// argon2id cost: passes over memory, and memory in bytes.
    public struct Cost: Sendable, Equatable, CustomStringConvertible {
        public var opsLimit: UInt64
        public var memLimit: Int

        /// libsodium's "interactive" limits (2 passes, 64 MiB): about 50 ms here per login.
        public static let interactive = Cost(opsLimit: UInt64(crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE),
                                             memLimit: Int(crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE))
        /// The least libsodium allows; only for tests that log in many times.
        public static let minimum = Cost(opsLimit: UInt64(crypto_pwhash_argon2id_OPSLIMIT_MIN),
                                         memLimit: Int(crypto_pwhash_argon2id_MEMLIMIT_MIN))

        public var description: String { "argon2id, \(opsLimit) passes, \(memLimit / 1024) KiB" }
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public static func hash(_ password: String, cost: Cost = .interactive) throws(Failure) -> String {
        _ = Sodium.ready
        var out = [CChar](repeating: 0, count: Int(crypto_pwhash_STRBYTES))
        var bytes = Array(password.utf8) + [0]  // never empty, so the pointer is never nil
        defer { wipe(&bytes) }
        let status = bytes.withUnsafeBufferPointer { pw in
            pw.withMemoryRebound(to: CChar.self) { pw in
                crypto_pwhash_str_alg(&out, pw.baseAddress!, UInt64(pw.count - 1), cost.opsLimit, cost.memLimit,
                                      crypto_pwhash_ALG_ARGON2ID13)
            }
        }
        guard status == 0 else { throw Failure(description: "argon2id failed (out of memory?)") }
        return String(decoding: out.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// True when `password` matches `hash`; false for a wrong password or a malformed hash.
    public static func verify(_ password: String, against hash: String) -> Bool {
        _ = Sodium.ready
        var bytes = Array(password.utf8) + [0]  // never empty, so the pointer is never nil
        defer { wipe(&bytes) }
        return bytes.withUnsafeBufferPointer { pw in
            pw.withMemoryRebound(to: CChar.self) { pw in
                crypto_pwhash_str_verify(hash, pw.baseAddress!, UInt64(pw.count - 1)) == 0
            }
        }
    }

    /// A hash of a password nobody knows, verified for unknown accounts so that a wrong account
    /// name costs the same time as a wrong password.
    public static let decoy: String = (try? hash(String(decoding: Sodium.randomBytes(16).map { $0 % 26 + 97 }, as: UTF8.self)))
        ?? "$argon2id$v=19$m=65536,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
}
