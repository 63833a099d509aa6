/// Why a path from the wire was refused (spec §File names).
public struct TransferNameError: Error, Equatable, CustomStringConvertible {
    public let path: String
    public let reason: String
    public var description: String { "refused the name \"\(Self.printable(path))\": \(reason)" }

    /// The path with control characters and hidden ones (`TransferName.isHidden`) escaped, safe for
    /// a terminal or a log line: `report\u{202E}fdp.exe` shows what it is.
    public static func printable(_ path: String) -> String {
        path.unicodeScalars.prefix(200).map { scalar in
            if scalar.value < 0x20 || scalar.value == 0x7F { return "?" }
            if TransferName.isHidden(scalar) { return "\\u{\(String(scalar.value, radix: 16, uppercase: true))}" }
            return String(scalar)
        }.joined()
    }
}

/// The rules a relative path from another device must pass before it names anything on this
/// disk: it can only ever point inside the folder it lands in. Pure; the I/O shell also refuses
/// to follow a symbolic link on the way, which a name alone cannot rule out.
public enum TransferName {
    /// Bytes in one path component, as Linux allows.
    public static let maxComponent = 255
    public static let maxPath = 4096
    public static let maxDepth = 64

    /// The components of `path`, or the first rule it breaks. Works on the UTF-8 bytes, never on
    /// characters: a `/` followed by a combining mark is one Character but still a separator.
    /// `allowingHidden`: take names with bidirectional controls and invisible characters
    /// (`isHidden`) too; a receiver refuses them unless its user chose otherwise.
    public static func components(of path: String, allowingHidden: Bool = false) throws(TransferNameError) -> [String] {
        func refuse(_ reason: String) -> TransferNameError { TransferNameError(path: path, reason: reason) }
        let bytes = Array(path.utf8)
        let slash = UInt8(ascii: "/"), dot = UInt8(ascii: ".")
        guard !bytes.isEmpty else { throw refuse("it is empty") }
        guard bytes.count <= maxPath else { throw refuse("longer than \(maxPath) bytes") }
        guard bytes[0] != slash else { throw refuse("it is absolute") }
        guard !bytes.contains(where: { $0 < 0x20 || $0 == 0x7F }) else { throw refuse("it holds a control character") }
        guard !bytes.contains(UInt8(ascii: "\\")) else { throw refuse("it holds a backslash") }
        let parts = bytes.split(separator: slash, omittingEmptySubsequences: false)
        guard parts.count <= maxDepth else { throw refuse("deeper than \(maxDepth) folders") }
        var components: [String] = []
        for part in parts {
            if part.isEmpty { throw refuse("it has an empty component") }
            if part.elementsEqual([dot]) || part.elementsEqual([dot, dot]) {
                throw refuse("it has a \(part.count == 1 ? "." : "..") component")
            }
            guard part.count <= maxComponent else { throw refuse("a component is longer than \(maxComponent) bytes") }
            components.append(String(decoding: part, as: UTF8.self))
        }
        if !allowingHidden, let hidden = path.unicodeScalars.first(where: isHidden) {
            throw refuse("it holds U+\(String(hidden.value, radix: 16, uppercase: true)), a character that reorders or hides text")
        }
        return components
    }

    /// A character that changes how a name reads without being seen (spec §File names, rule 8):
    /// the bidirectional controls — `photo\u{202E}gpj.exe` shows as `photoexe.jpg` — and the
    /// invisible ones with no use in a name. Zero-width joiner and non-joiner (needed by Persian,
    /// the Indic scripts and emoji) and variation selectors are not among them.
    public static func isHidden(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x061C, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: true  // bidirectional controls
        case 0x00AD, 0x115F, 0x1160, 0x180E, 0x200B, 0x2060...0x2064, 0x3164, 0xFEFF, 0xFFA0: true  // invisible
        default: false
        }
    }

    /// `name`, or the first of `name (1)`, `name (2)`, … (before the extension of a file) that
    /// `taken` says is free: what lands never replaces what is there. A name too long for its
    /// suffix loses characters from the end of its stem, so the result is never over 255 bytes
    /// (a 255-byte name pushed twice used to fail after all its data had come).
    public static func free(_ name: String, isFile: Bool, taken: (String) -> Bool) -> String {
        guard taken(name) else { return name }
        var (stem, ext) = isFile ? split(extensionOf: name) : (name, "")
        if ext.utf8.count > maxComponent / 2 { (stem, ext) = (name, "") }  // a long "extension" is part of the name
        var n = 1
        while true {
            let suffix = " (\(n))\(ext)"
            var head = Substring(stem)
            while head.utf8.count + suffix.utf8.count > maxComponent { head = head.dropLast() }
            let candidate = String(head) + suffix
            if !taken(candidate) { return candidate }
            n += 1
        }
    }

    /// "report.pdf" → ("report", ".pdf"); ".bashrc" and "archive" keep no extension.
    static func split(extensionOf name: String) -> (String, String) {
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return (name, "") }
        return (String(name[..<dot]), String(name[dot...]))
    }
}
