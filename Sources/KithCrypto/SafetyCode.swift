import CSodium

/// The code two people compare to know that each holds the other's real account keys: forty
/// digits in eight groups (`31415 92653 …`), the same on both sides.
///
/// It is made from both accounts' names and their **recovery keys** (the public half in every
/// roster): the one key of an account that a hand-over does not change, so a contact's code
/// stays the same across hand-overs and changes only with a recovery (which the roster chain
/// proves) or a new account. Order-independent: the two sides are sorted by account name.
/// Defined in Protocol/identity.md §Safety code.
public struct SafetyCode: Sendable, Hashable, CustomStringConvertible {
    public static let domain = Array("kith-safety-code-v0".utf8)
    public static let digestBytes = 40
    public static let groups = 8

    /// One side: an account and its recovery key.
    public struct Side: Sendable, Hashable {
        public var account: String
        public var recoveryKey: SigningPublicKey
        public init(account: String, recoveryKey: SigningPublicKey) {
            self.account = account
            self.recoveryKey = recoveryKey
        }

        var encoded: [UInt8] { [UInt8(truncatingIfNeeded: account.utf8.count)] + Array(account.utf8) + recoveryKey.rawValue }
    }

    /// The eight groups, each 0…99999.
    public let values: [UInt32]

    public init(_ a: Side, _ b: Side) {
        _ = Sodium.ready
        // By the names' UTF-8 bytes, not String comparison (which treats canonically equivalent
        // names as equal), then by key bytes.
        let sides = [a, b].sorted { lhs, rhs in
            let (left, right) = (Array(lhs.account.utf8), Array(rhs.account.utf8))
            return left != right ? left.lexicographicallyPrecedes(right)
                : lhs.recoveryKey.rawValue.lexicographicallyPrecedes(rhs.recoveryKey.rawValue)
        }
        let input = Self.domain + sides[0].encoded + sides[1].encoded
        var digest = [UInt8](repeating: 0, count: Self.digestBytes)
        crypto_generichash(&digest, Self.digestBytes, input, UInt64(input.count), nil, 0)
        values = (0..<Self.groups).map { group in
            let value = digest[group * 5..<group * 5 + 5].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            return UInt32(value % 100_000)
        }
    }

    /// `"31415 92653 58979 32384 62643 38327 95028 84197"`.
    public var description: String {
        values.map { value in
            let digits = String(value)
            return String(repeating: "0", count: 5 - digits.count) + digits
        }.joined(separator: " ")
    }
}
