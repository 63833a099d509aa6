import CSodium

/// The short, human-comparable form of a device key: `K7Q2M-4XW9A-0PZ3T-8HJ6C`.
///
/// Twenty Crockford base32 symbols in four groups of five: nineteen carry the first 95 bits of
/// BLAKE2b-256("kith-fingerprint-v0" || Ed25519 public key), the twentieth is a Luhn mod 32 check
/// symbol that catches any single mistyped symbol and most swaps of neighbours. Parsing accepts
/// lower case, spaces and Crockford's look-alikes (O→0, I/L→1). Defined in Protocol/identity.md.
public struct Fingerprint: Sendable, Hashable, CustomStringConvertible {
    public static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)
    public static let dataSymbols = 19
    public static let domain = Array("kith-fingerprint-v0".utf8)

    /// The twenty symbol values (0…31), check symbol last.
    public let symbols: [UInt8]

    public enum ParseError: Error, Equatable, Sendable {
        case invalidCharacter(Character)
        case wrongLength(Int)
        case checkSymbolMismatch
    }

    public init(of key: SigningPublicKey) {
        _ = Sodium.ready
        var digest = [UInt8](repeating: 0, count: 32)
        let input = Self.domain + key.rawValue
        crypto_generichash(&digest, 32, input, UInt64(input.count), nil, 0)
        var values: [UInt8] = []
        for i in 0..<Self.dataSymbols {
            var v: UInt8 = 0
            for bit in 0..<5 {
                let index = i * 5 + bit
                let set = (digest[index / 8] >> (7 - UInt8(index % 8))) & 1
                v = v << 1 | set
            }
            values.append(v)
        }
        symbols = values + [Self.checkSymbol(for: values)]
    }

    public init(parsing text: String) throws(ParseError) {
        let values = try Self.symbolValues(text)
        guard values.count == Self.dataSymbols + 1 else { throw .wrongLength(values.count) }
        guard Self.checkSymbol(for: Array(values.prefix(Self.dataSymbols))) == values.last else {
            throw .checkSymbolMismatch
        }
        symbols = values
    }

    /// The values of the symbols a person typed: ASCII case folded, spaces and dashes skipped, O
    /// read as 0 and I or L as 1 (the symbols the alphabet leaves out). Shared by recovery keys.
    static func symbolValues(_ text: String) throws(ParseError) -> [UInt8] {
        var values: [UInt8] = []
        for scalar in text.unicodeScalars {
            // ASCII case folding only: full Unicode upper-casing would turn "ß" into "SS".
            guard scalar.isASCII else { throw .invalidCharacter(Character(scalar)) }
            var ascii = UInt8(scalar.value)
            if ascii >= UInt8(ascii: "a") && ascii <= UInt8(ascii: "z") { ascii -= 32 }
            switch ascii {
            case UInt8(ascii: " "), UInt8(ascii: "-"): continue
            case UInt8(ascii: "O"): values.append(0)
            case UInt8(ascii: "I"), UInt8(ascii: "L"): values.append(1)
            default:
                guard let v = alphabet.firstIndex(of: ascii) else { throw .invalidCharacter(Character(scalar)) }
                values.append(UInt8(v))
            }
        }
        return values
    }

    /// Luhn mod N with N = 32, doubling from the rightmost data symbol.
    static func checkSymbol(for values: [UInt8]) -> UInt8 {
        var factor = 2, sum = 0
        for v in values.reversed() {
            let addend = factor * Int(v)
            sum += addend / 32 + addend % 32
            factor = factor == 2 ? 1 : 2
        }
        return UInt8((32 - sum % 32) % 32)
    }

    public func matches(_ key: SigningPublicKey) -> Bool { Fingerprint(of: key) == self }

    public var description: String {
        let chars = symbols.map { Character(UnicodeScalar(Self.alphabet[Int($0)])) }
        return stride(from: 0, to: chars.count, by: 5).map { String(chars[$0..<$0 + 5]) }.joined(separator: "-")
    }
}
