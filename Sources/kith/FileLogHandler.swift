import ArgumentParser
import Dispatch
import Foundation
import Logging

/// Appends log lines to a file (the profile's agent.log), one write per line. The file is kept
/// under `maxBytes`: past it, it becomes `agent.log.1` (replacing the one before) and a new file
/// starts, so an agent left running for months never fills the disk. `reopenAll()` (on SIGHUP)
/// reopens the file, for an outside log rotator.
struct FileLogHandler: LogHandler {
    /// 10 MiB, or `KITH_LOG_MAX_BYTES` (small devices, tests).
    static let maxBytes: UInt64 = ProcessInfo.processInfo.environment["KITH_LOG_MAX_BYTES"].flatMap(UInt64.init) ?? 10 << 20

    final class Sink: @unchecked Sendable {
        let path: String
        let lock = NSLock()
        private var handle: FileHandle?
        private var size: UInt64 = 0

        init?(path: String) {
            self.path = path
            guard open() else { return nil }
        }

        private func open() -> Bool {
            if !FileManager.default.fileExists(atPath: path) {
                _ = FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
            }
            guard let handle = FileHandle(forWritingAtPath: path) else { return false }
            size = handle.seekToEndOfFile()
            self.handle = handle
            return true
        }

        func write(_ line: Data) {
            lock.withLock {
                if size + UInt64(line.count) > FileLogHandler.maxBytes {
                    try? handle?.close()
                    try? FileManager.default.removeItem(atPath: path + ".1")
                    try? FileManager.default.moveItem(atPath: path, toPath: path + ".1")
                    _ = open()
                }
                handle?.write(line)
                size += UInt64(line.count)
            }
        }

        func reopen() {
            lock.withLock {
                try? handle?.close()
                _ = open()
            }
        }
    }

    /// Every open log file, for SIGHUP.
    nonisolated(unsafe) private static var sinks: [Sink] = []
    private static let sinksLock = NSLock()

    static func reopenAll() { sinksLock.withLock { sinks }.forEach { $0.reopen() } }

    private let label: String
    private let sink: Sink
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    init?(label: String, path: String) {
        guard let sink = Sink(path: path) else { return nil }
        self.label = label
        self.sink = sink
        Self.sinksLock.withLock { Self.sinks.append(sink) }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        sink.write(Data("\(Self.timestamp()) \(event.level) \(label): \(event.message)\n".utf8))
    }

    /// UTC to the millisecond (`2026-12-03T18:03:48.125Z`): a log line is how an operator times
    /// what happened within a second. Made without a date formatter, which is costly to build
    /// for every line.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var parts = tm()
        var seconds = now.tv_sec
        gmtime_r(&seconds, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                      parts.tm_hour, parts.tm_min, parts.tm_sec, now.tv_nsec / 1_000_000)
    }
}

extension FileLogHandler {
    /// SIGHUP reopens the log files (after an outside rotator moved them).
    static func reopenOnHangUp() {
        signal(SIGHUP, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        source.setEventHandler { reopenAll() }
        source.resume()
        hangUp = source
    }

    nonisolated(unsafe) private static var hangUp: (any DispatchSourceSignal)?
}

/// `--log-level`, as swift-log's levels.
enum LogLevelOption: String, ExpressibleByArgument, CaseIterable {
    case trace, debug, info, notice, warning, error, critical

    var level: Logger.Level { Logger.Level(rawValue: rawValue) ?? .info }
}
