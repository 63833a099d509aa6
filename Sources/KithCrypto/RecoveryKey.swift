import CSodium

/// The account's recovery key: an Ed25519 key pair made on the first device when the account's
/// first roster is made, printed once for its owner to keep offline, and typed back by
/// `kith primary recover` to sign a roster that names a new primary (Protocol/roster.md).
///
/// What is printed is a 128-bit secret, not the Ed25519 seed: thirty Crockford base32 symbols in
/// six groups of five, `R4KJ8-…`. Twenty-six carry the secret (MSB first, two zero bits of
/// padding), four are a check: the first 20 bits of BLAKE2b-256("kith-recovery-check-v0" ||
/// secret). The Ed25519 seed is BLAKE2b-256("kith-recovery-key-v0" || secret). Parsing is as
/// lenient as a fingerprint's (case, spaces, hyphens, O→0, I/L→1).
public struct RecoveryKey: DocumentSigner {
    public static let secretByteCount = 16
    public static let dataSymbols = 26
    public static let checkSymbols = 4
    public static let checkDomain = Array("kith-recovery-check-v0".utf8)
    public static let seedDomain = Array("kith-recovery-key-v0".utf8)

    /// The fingerprint's: invalid character, wrong length, or check symbols that do not match
    /// (a typo) or padding bits that are not zero.
    public typealias ParseError = Fingerprint.ParseError

    private let secret: SecretBytes
    private let identity: DeviceIdentity
    public var publicKey: SigningPublicKey { identity.publicKey }

    /// The key for a 16-byte secret; nil for any other length.
    public init?(secret: some Collection<UInt8>) {
        guard secret.count == Self.secretByteCount else { return nil }
        let secret = SecretBytes(secret)
        var seed = secret.withUnsafeBytes { Self.blake2b(Self.seedDomain + Array($0)) }
        defer { wipe(&seed) }
        self.secret = secret
        identity = DeviceIdentity(seed: seed)!
    }

    public static func generate() -> RecoveryKey {
        var secret = Sodium.randomBytes(secretByteCount)
        defer { wipe(&secret) }
        return RecoveryKey(secret: secret)!
    }

    /// What a person typed back.
    public init(parsing text: String) throws(ParseError) {
        var values = try Fingerprint.symbolValues(text)
        defer { wipe(&values) }
        guard values.count == Self.dataSymbols + Self.checkSymbols else { throw .wrongLength(values.count) }
        var bits = BitString()
        for v in values.prefix(Self.dataSymbols) { bits.append(UInt32(v), width: 5) }
        var secret = bits.bytes
        defer { wipe(&secret) }
        secret.removeLast(secret.count - Self.secretByteCount)  // 130 bits: 17 bytes, the last holds the padding
        let key = RecoveryKey(secret: secret)!
        var canonical = key.symbols
        defer { wipe(&canonical) }
        guard canonical == values else { throw .checkSymbolMismatch }
        self = key
    }

    /// The printed form: `XXXXX-XXXXX-XXXXX-XXXXX-XXXXX-XXXXX`. This is the secret; show it
    /// once, never log it.
    public var text: String {
        let chars = symbols.map { Character(UnicodeScalar(Fingerprint.alphabet[Int($0)])) }
        return stride(from: 0, to: chars.count, by: 5).map { String(chars[$0..<$0 + 5]) }.joined(separator: "-")
    }

    public func sign(_ message: [UInt8]) -> [UInt8] { identity.sign(message) }

    /// The thirty symbol values: 26 of the secret, 4 of the check.
    private var symbols: [UInt8] {
        secret.withUnsafeBytes { raw in
            var bytes = Array(raw)
            defer { wipe(&bytes) }
            var out: [UInt8] = []
            for i in 0..<Self.dataSymbols { out.append(Self.bits(bytes, from: i * 5)) }
            let check = Self.blake2b(Self.checkDomain + bytes)
            for i in 0..<Self.checkSymbols { out.append(Self.bits(check, from: i * 5)) }
            return out
        }
    }

    /// Five bits of `bytes` from bit `start` (MSB first), zeros past the end.
    private static func bits(_ bytes: [UInt8], from start: Int) -> UInt8 {
        var v: UInt8 = 0
        for n in start..<start + 5 {
            let bit = n / 8 < bytes.count ? (bytes[n / 8] >> (7 - UInt8(n % 8))) & 1 : 0
            v = v << 1 | bit
        }
        return v
    }

    private static func blake2b(_ input: [UInt8]) -> [UInt8] {
        _ = Sodium.ready
        var input = input
        defer { wipe(&input) }
        var digest = [UInt8](repeating: 0, count: 32)
        crypto_generichash(&digest, 32, input, UInt64(input.count), nil, 0)
        return digest
    }
}

extension RecoveryKey: CustomStringConvertible {
    /// Never the secret: the public key's fingerprint.
    public var description: String { "recovery key \(publicKey.fingerprint)" }
}

/// Bits appended MSB first, read back as bytes (the last byte zero-padded).
private struct BitString {
    var bytes: [UInt8] = []
    var count = 0

    mutating func append(_ value: UInt32, width: Int) {
        for i in stride(from: width - 1, through: 0, by: -1) {
            if count % 8 == 0 { bytes.append(0) }
            if (value >> UInt32(i)) & 1 == 1 { bytes[bytes.count - 1] |= 1 << (7 - UInt8(count % 8)) }
            count += 1
        }
    }
}
