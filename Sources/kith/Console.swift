import Foundation

/// Output for people and scripts. Each line goes straight to file descriptor 1, unbuffered,
/// so a long-running command's lines reach a log file or pipe as they happen.
enum Console {
    static func line(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }
}

extension String {
    /// Text another device chose (a name, a note), safe to show in a terminal: control
    /// characters, which could carry escape sequences, become U+FFFD.
    var printable: String {
        String(String.UnicodeScalarView(unicodeScalars.map {
            $0.properties.generalCategory == .control && $0 != "\n" ? "\u{FFFD}" : $0
        }))
    }
}
