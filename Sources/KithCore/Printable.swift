extension String {
    /// Text another device chose (a name, a note), safe to show in a terminal: control
    /// characters, which could carry escape sequences, become U+FFFD, and characters that reorder
    /// or hide text (`TransferName.isHidden`) are shown escaped, `\u{202E}`.
    public var printable: String {
        unicodeScalars.map { scalar in
            if scalar.properties.generalCategory == .control && scalar != "\n" { return "\u{FFFD}" }
            if TransferName.isHidden(scalar) { return "\\u{\(String(scalar.value, radix: 16, uppercase: true))}" }
            return String(scalar)
        }.joined()
    }
}
