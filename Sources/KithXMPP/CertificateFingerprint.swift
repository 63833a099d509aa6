import Crypto

/// The SHA-256 of a certificate's DER bytes: what a user compares with the server's admin and
/// pins when the system does not trust the certificate (a household server with its own
/// certificate). Written the way OpenSSL and browsers show it, `AB:CD:…`; read with or without
/// colons, in either case.
public struct CertificateFingerprint: Hashable, Sendable, Codable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init(der: some Sequence<UInt8>) {
        bytes = Array(SHA256.hash(data: Array(der)))
    }

    /// `nil` unless `text` is 32 bytes of hex (colons, spaces and a `sha256:` prefix allowed).
    public init?(_ text: String) {
        var digits = Substring(text.lowercased())
        if digits.hasPrefix("sha256:") { digits = digits.dropFirst(7) }
        let hex = digits.filter { $0 != ":" && $0 != " " }
        guard hex.count == 64, hex.allSatisfy(\.isHexDigit) else { return nil }
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        self.bytes = bytes
    }

    public var description: String {
        bytes.map { byte in
            let text = String(byte, radix: 16, uppercase: true)
            return byte < 16 ? "0" + text : text
        }.joined(separator: ":")
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = CertificateFingerprint(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a SHA-256 fingerprint: \(text)"))
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
