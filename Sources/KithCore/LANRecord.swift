import KithCrypto
import KithWire

/// What a Kith agent announces on its LAN with DNS-SD (spec §LAN discovery): a `_kith._udp`
/// service on its UDP port, with a TXT record of `key=value` strings. The TXT record comes from
/// anyone on the LAN, so it is parsed as untrusted input: a sibling found this way is only a
/// candidate address until a handshake with the key from the device list succeeds.
public struct LANRecord: Equatable, Sendable {
    public static let serviceType = "_kith._udp"

    /// The protocol version (`v`).
    public var version: UInt16
    /// The device key's fingerprint (`fp`), as `kith devices` shows it.
    public var fingerprint: String
    /// The account tag of today (`tag`, 16 hex digits): siblings recognise each other by it,
    /// strangers learn nothing of the account name from it.
    public var accountTag: String

    public init(version: UInt16 = WireLimits.protocolVersion, fingerprint: String, accountTag: String) {
        self.version = version
        self.fingerprint = fingerprint
        self.accountTag = accountTag
    }

    /// The service instance name: not the device's name, which could tell who owns it.
    public static func instanceName(fingerprint: String) -> String {
        "kith-" + fingerprint.prefix(11).filter { $0 != "-" }
    }

    /// The TXT record's bytes: each entry a length byte and `key=value`.
    public var txt: [UInt8] {
        ["v=\(version)", "fp=\(fingerprint)", "tag=\(accountTag)"].flatMap { entry -> [UInt8] in
            let bytes = Array(entry.utf8)
            return [UInt8(bytes.count)] + bytes
        }
    }

    /// Parses a TXT record; nil if it is not a Kith record (a key missing, a value malformed).
    /// Unknown keys are ignored; for a key given twice the first counts (RFC 6763 §6.4).
    public init?(txt: some Collection<UInt8>) {
        guard txt.count <= 1300 else { return nil }
        var entries: [String: String] = [:]
        var rest = Array(txt)[...]
        while let length = rest.first {
            rest = rest.dropFirst()
            guard rest.count >= Int(length) else { return nil }
            let entry = rest.prefix(Int(length))
            rest = rest.dropFirst(Int(length))
            guard let text = String(validating: entry, as: UTF8.self), let equals = text.firstIndex(of: "=") else { continue }
            let key = text[..<equals].lowercased()
            if entries[key] == nil { entries[key] = String(text[text.index(after: equals)...]) }
        }
        guard let v = entries["v"].flatMap({ UInt16($0) }),
              let fp = entries["fp"], (try? Fingerprint(parsing: fp)) != nil,
              let tag = entries["tag"], tag.count == 16, tag.allSatisfy(\.isHexDigit)
        else { return nil }
        self.init(version: v, fingerprint: fp, accountTag: tag.lowercased())
    }

    /// The account's tag on `day` (days since 1970-01-01, UTC): the first 8 bytes of BLAKE2b
    /// keyed with a hash of the account name, over "kith-lan-tag" and the day. It changes daily.
    public static func accountTag(account: String, day: UInt32) -> String {
        let key = KeyedHash.of(Array(account.utf8), key: Array("kith-account".utf8))
        var message = Array("kith-lan-tag".utf8)
        message.appendInteger(day)
        return KeyedHash.of(message, key: key, length: 16).prefix(8).map { byte in
            let digits = Array("0123456789abcdef")
            return String([digits[Int(byte >> 4)], digits[Int(byte & 15)]])
        }.joined()
    }

    /// True if `tag` is the account's tag of `day` or of the day before (clocks near midnight).
    public static func tag(_ tag: String, isOf account: String, day: UInt32) -> Bool {
        tag == accountTag(account: account, day: day) || (day > 0 && tag == accountTag(account: account, day: day - 1))
    }
}
