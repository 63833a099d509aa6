import Foundation
import KithCore

/// Output for people and scripts. Each line goes straight to file descriptor 1, unbuffered,
/// so a long-running command's lines reach a log file or pipe as they happen.
enum Console {
    static func line(_ text: String, terminator: String = "\n") {
        FileHandle.standardOutput.write(Data((text + terminator).utf8))
    }

    /// Rows in columns as wide as their widest cell, trailing spaces trimmed.
    static func table(_ rows: [[String]]) {
        let columns = rows.map(\.count).max() ?? 0
        let widths = (0..<columns).map { column in rows.map { column < $0.count ? $0[column].count : 0 }.max() ?? 0 }
        for row in rows {
            line(zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }
                .joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression))
        }
    }
}
