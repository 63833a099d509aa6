import Foundation

/// Output for people and scripts. Each line goes straight to file descriptor 1, unbuffered,
/// so a long-running command's lines reach a log file or pipe as they happen.
enum Console {
    static func line(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }
}
