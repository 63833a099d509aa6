import KithWire

/// What the device id and the CLI make of a terminal type (spec §Sessions); the values are the
/// schema's (`TerminalType`, generated).
extension TerminalType {
    /// The two letters in the device id: `alice-PC-1`, `alice-MP-1`; nil for a type this
    /// version does not define (the server refuses it at login).
    public var code: String? {
        switch self {
        case .pc: "PC"
        case .mobile: "MP"
        case .tv: "TV"
        case .web: "WB"
        case .server: "SV"
        case .unknown: nil
        }
    }

    /// The type people type, `--type pc` (any case): one of the schema's names.
    public init?(name: String) {
        guard let match = Self.allCases.first(where: { $0.description == name.lowercased() }) else { return nil }
        self = match
    }
}

/// The rules for account names and passwords (spec §Sessions).
public enum AccountRules {
    public static let maxNameLength = 64
    public static let minPasswordLength = 8

    /// Nil when `name` is acceptable, else what is wrong with it, for a person to read.
    public static func problem(withName name: String) -> String? {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty, bytes.count <= maxNameLength else { return "an account name is 1 to 64 characters" }
        let allowed = { (b: UInt8) in (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) || b == 0x2e || b == 0x5f }
        guard bytes.allSatisfy(allowed) else { return "an account name uses only a-z, 0-9, '.' and '_'" }
        guard bytes[0] != 0x2e && bytes[0] != 0x5f else { return "an account name starts with a letter or digit" }
        return nil
    }

    public static func problem(withPassword password: String) -> String? {
        password.utf8.count >= minPasswordLength ? nil : "a password has at least \(minPasswordLength) characters"
    }
}
