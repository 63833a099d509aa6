import Foundation

/// The `kith` release binary under test: one-shot commands, and long-lived children (the
/// server, the agents) that `Leftovers` kills when the bench ends.
struct KithBinary {
    let path: String
    /// Where children's stdout and stderr go (one file each, named after the child).
    let work: URL

    /// Runs `kith ARGUMENTS` to completion and returns its stdout; throws with its stderr if it fails.
    @discardableResult
    func run(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // The CLI writes little, so reading stdout to its end and then stderr cannot deadlock.
        let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw BenchError("`kith \(arguments.joined(separator: " "))` exited with \(process.terminationStatus): "
                             + errors.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return output
    }

    /// Starts `kith ARGUMENTS` as a child and returns the first line of its stdout that starts
    /// with `prefix`, once it appears. Its output goes to WORK/NAME.out and WORK/NAME.err.
    func start(_ arguments: [String], name: String, awaiting prefix: String, timeout: Double = 30) throws -> String {
        let out = work.appendingPathComponent("\(name).out"), err = work.appendingPathComponent("\(name).err")
        for file in [out, err] { _ = FileManager.default.createFile(atPath: file.path, contents: nil) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        try process.run()
        Leftovers.shared.adopt(process)
        var found = ""
        try poll("`\(prefix)` from \(name)", timeout: timeout, interval: 0.05) { _ in
            let text = (try? String(contentsOf: out, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) {
                found = String(line)
                return true
            }
            guard process.isRunning else {
                let errors = (try? String(contentsOf: err, encoding: .utf8)) ?? ""
                throw BenchError("\(name) exited with \(process.terminationStatus): \(errors.suffix(2000))")
            }
            return false
        }
        return found
    }
}
