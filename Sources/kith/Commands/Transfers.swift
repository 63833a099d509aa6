import KithAPI
import ArgumentParser
import Foundation
import KithAgent
#if canImport(Glibc)
import Glibc
#endif

extension Kith {
    struct Push: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "push",
            abstract: "Push files and folders to another of your devices.",
            discussion: """
                End-to-end encrypted, over a direct TCP stream when the device is reachable (LAN or a \
                direct path) and through the server otherwise, moving to a direct stream when one \
                appears. Interrupted transfers (either agent restarted, a network cut) continue from \
                the last verified chunk. The command follows the transfer until the receiver has \
                verified every file (exit 0), or it is rejected, expires or fails (exit 1); with \
                --detach it returns at once and `kith transfers` follows it.
                """)
        @OptionGroup var options: ClientOptions

        @Argument(help: "Files and folders to send (folders with everything under them).")
        var paths: [String]

        @Option(help: "The device to push to, e.g. alice-PC-2.")
        var to: String

        @Flag(help: "Ask for direct receive: the files land without a prompt where the receiver's policy allows it (--direct), or ask the receiver's user (--ask, the default).")
        var receive: ReceiveMode = .ask

        @Option(help: ArgumentHelp("How long the offer waits for an answer (default: the agent's --offer-timeout).",
                                   valueName: "seconds"))
        var expires: UInt32?

        @Flag(help: "Return once the transfer is committed on this device, without following it.")
        var detach = false

        enum ReceiveMode: String, EnumerableFlag { case direct, ask }

        func run() throws {
            let cwd = FileManager.default.currentDirectoryPath
            let started = try options.client.call(PushRequest(
                to: to, paths: paths.map { $0.hasPrefix("/") ? $0 : cwd + "/" + $0 }, receive: receive.rawValue, ttlSeconds: expires))
            if detach {
                return options.output(started) {
                    Console.line("transfer \(started.id.prefix(8)) to \(to): \(started.files) file(s), \(bytes(started.totalBytes)); follow it with `kith transfers`")
                    Self.showSkipped(started)
                }
            }
            // The push's own answer is the first JSON line: it alone names what was skipped.
            if options.json { Console.line(TransferFollower.json(started)) } else { Self.showSkipped(started) }
            try TransferFollower(options: options, id: started.id).follow(after: started)
        }

        /// Says which entries the push leaves out, and why (links and special files are not sent).
        static func showSkipped(_ started: TransferInfo) {
            guard let skipped = started.skipped, !skipped.isEmpty else { return }
            Console.line("skipped \(skipped.count) entr\(skipped.count == 1 ? "y" : "ies") (only files and folders are sent):")
            for entry in skipped { Console.line("  \(entry.path.printable): \(entry.reason)") }
        }
    }

    struct TransfersCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "transfers",
            abstract: "List file transfers, both ways: offers waiting for you, running ones, and recent finished ones.",
            discussion: "IDs can be shortened to any unique start. `kith accept ID` / `kith reject ID` answer an offer.")
        @OptionGroup var options: ClientOptions

        @Option(help: ArgumentHelp("Follow this transfer until it finishes.", valueName: "id"))
        var follow: String?

        func run() throws {
            if let follow { return try TransferFollower(options: options, id: follow).follow() }
            let result = try options.client.call(TransfersRequest())
            options.output(result) {
                if result.transfers.isEmpty { Console.line("no transfers") }
                for t in result.transfers { Console.line(describe(t)) }
            }
        }
    }

    struct Accept: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "accept", abstract: "Accept a file offer that waits for you (see `kith transfers`).")
        @OptionGroup var options: ClientOptions
        @Argument(help: "The transfer id, or a unique start of it.") var id: String
        @Option(help: ArgumentHelp("Land the files in this folder instead of the receive folder.", valueName: "folder"))
        var to: String?

        func run() throws {
            let folder = to.map { $0.hasPrefix("/") ? $0 : FileManager.default.currentDirectoryPath + "/" + $0 }
            let info = try options.client.call(AcceptRequest(id: id, folder: folder))
            options.output(info) { Console.line("accepted \(info.id.prefix(8)); it lands in \(info.folder ?? "?")") }
        }
    }

    struct Reject: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "reject",
            abstract: "Reject a file offer that waits for you, or cancel one of your pushes.")
        @OptionGroup var options: ClientOptions
        @Argument(help: "The transfer id, or a unique start of it.") var id: String

        func run() throws {
            let info = try options.client.call(RejectRequest(id: id))
            options.output(info) { Console.line("\(info.id.prefix(8)) \(info.state)") }
        }
    }
}

/// Follows one transfer until it finishes: a live line on a terminal, a line per change or 10%
/// otherwise, JSON lines with --json. Exit 0 when complete, 1 when it ended any other way.
struct TransferFollower {
    let options: ClientOptions
    let id: String

    /// `after`: the state already printed as JSON (the push's answer), so only changes from it follow.
    func follow(after shown: TransferInfo? = nil) throws {
        let tty = isatty(1) == 1 && !options.json
        func tenth(_ t: TransferInfo) -> UInt64 { t.totalBytes == 0 ? 10 : t.verifiedBytes * 10 / t.totalBytes }
        var last = (options.json ? shown : nil).map { (state: $0.state, tenth: tenth($0), path: $0.path, waiting: $0.waitingFor) }
        // Subscribed before the first look, so no change falls between the two; without it (the
        // agent refused), the follower only asks every 200 ms.
        let changes = try? options.client.subscribe()
        while true {
            let t = try options.client.call(TransferRequest(id: id))
            let tenth = tenth(t)
            let changed = last == nil || last!.state != t.state || last!.tenth != tenth || last!.path != t.path
                || last!.waiting != t.waitingFor
            if options.json {
                if changed { Console.line(Self.json(t)) }
            } else if tty {
                FileHandle.standardOutput.write(Data(("\r\u{1B}[K" + Self.progressLine(t)).utf8))
            } else if changed {
                Console.line(Self.progressLine(t))
            }
            last = (t.state, tenth, t.path, t.waitingFor)
            if ["complete", "rejected", "expired", "failed", "cancelled"].contains(t.state) {
                if tty { Console.line("") }
                if t.state == "complete" {
                    if !options.json { Console.line(Self.outcome(t)) }
                    return
                }
                throw CLIError(code: "transferEnded", Self.outcome(t))
            }
            waitForChange(changes)
        }
    }

    /// Waits until the agent says this transfer changed state, or 200 ms for the next progress
    /// line; with no events to wait on (refused, or the agent went away), just 200 ms.
    private func waitForChange(_ changes: EventSubscription?) {
        guard let changes, !changes.ended else {
            usleep(200_000)
            return
        }
        _ = changes.first(within: .milliseconds(200)) { $0.event == .transfer && $0.transfer == id }
    }

    static func progressLine(_ t: TransferInfo) -> String {
        let percent = t.totalBytes == 0 ? 100 : Double(t.verifiedBytes) * 100 / Double(t.totalBytes)
        var line = "\(t.id.prefix(8)) \(t.state) \(String(format: "%5.1f%%", percent)) \(bytes(t.verifiedBytes))/\(bytes(t.totalBytes))"
        if let waiting = t.waitingFor {
            line += "  waiting \(waiting)"  // instead of a rate: nothing moves
        } else if let rate = t.bytesPerSecond, rate > 0 {
            line += "  \(bytes(UInt64(rate)))/s"
            let left = Double(t.totalBytes - min(t.totalBytes, t.verifiedBytes)) / rate
            line += "  ETA \(left < 60 ? String(format: "%.0f s", left) : String(format: "%.0f min", left / 60))"
        }
        line += via(t)
        if let reason = t.reason, ["paused", "offering"].contains(t.state) { line += "  (\(reason.printable))" }
        return line
    }

    static func outcome(_ t: TransferInfo) -> String {
        switch t.state {
        case "complete": "done: \(t.files) file(s), \(bytes(t.totalBytes)) verified by \(t.peer)"
        default: "\(t.state): \((t.reason ?? "no reason given").printable)"
        }
    }

    static func json(_ t: TransferInfo) -> String { JSONOutput.line(t) }
}

func describe(_ t: TransferInfo) -> String {
    let arrow = t.direction == "out" ? "→ \(t.peer)" : "← \(t.peer)"
    var line = "\(t.id.prefix(8))  \(arrow)  \(t.state)  \(t.names.joined(separator: ", ").printable)  \(bytes(t.verifiedBytes))/\(bytes(t.totalBytes))"
    line += via(t)
    if let waiting = t.waitingFor, t.state != "waiting" || t.direction == "out" { line += "  waiting \(waiting)" }
    if t.state == "waiting" && t.direction == "in" { line += "  (kith accept \(t.id.prefix(8)) / kith reject \(t.id.prefix(8)))" }
    if let reason = t.reason, t.state != "complete" { line += "  (\(reason.printable))" }
    return line
}

/// "1.5 MB", for people (decimal units, as rates are usually given).
func bytes(_ n: UInt64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"]
    var value = Double(n), unit = 0
    while value >= 1000 && unit < units.count - 1 { value /= 1000; unit += 1 }
    return unit == 0 ? "\(n) B" : String(format: "%.1f", value) + " " + units[unit]
}

/// "  via lan, AES-256-GCM": the stream's path and cipher, or nothing without a stream.
func via(_ t: TransferInfo) -> String {
    guard let path = t.path else { return "" }
    return "  via \(path)" + (t.cipher.map { ", \($0)" } ?? "")
}
