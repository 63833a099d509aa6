import ArgumentParser
import Foundation
import KithAgent

extension Kith {
    struct Devices: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the devices of your account, your contacts under \"my devices\".",
            discussion: "PATH says how this device reaches each other one: relay (through the server) for now.")
        @OptionGroup var options: ClientOptions

        func run() throws {
            let result = try options.client.call(AgentRequest(.devices), as: DevicesResult.self)
            options.output(result) {
                Console.line("my devices (\(result.account)):")
                let rows = [["", "ID", "NAME", "TYPE", "STATE", "PATH", "LAST SEEN", "FINGERPRINT"]] + result.devices.map {
                    [$0.isThisDevice ? "*" : "", $0.id.printable, $0.name.printable, $0.type, $0.online ? "online" : "offline", $0.path,
                     $0.online ? "now" : ago($0.lastSeenMillis), $0.fingerprint]
                }
                let widths = (0..<8).map { column in rows.map { $0[column].count }.max() ?? 0 }
                for row in rows {
                    Console.line(zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }
                        .joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression))
                }
            }
        }
    }

    struct Send: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send a note to another of your devices.",
            discussion: """
                The note is end-to-end encrypted for that device and committed to this device's \
                outbox before the command returns; it reaches the device through the server, at once \
                if it is online and when it comes back if not.
                """)
        @OptionGroup var options: ClientOptions

        @Argument(help: "The device id, as `kith devices` shows it (alice-PC-2).")
        var device: String

        @Argument(help: "The text of the note.")
        var text: String

        func run() throws {
            let result = try options.client.call(AgentRequest(.send, .init(to: device, text: text)), as: SendResult.self)
            options.output(result) {
                Console.line(result.relayed ? "sent to \(result.to)" : "queued for \(result.to); it goes out when the server is reachable")
            }
        }
    }

    struct Inbox: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the notes your other devices sent to this one.")
        @OptionGroup var options: ClientOptions

        @Option(help: "Show at most this many, newest last.")
        var limit = 50

        func run() throws {
            let result = try options.client.call(AgentRequest(.inbox, .init(limit: limit)), as: InboxResult.self)
            options.output(result) {
                if result.notes.isEmpty { Console.line("no notes") }
                for note in result.notes { Console.line("\(note.from.printable)  \(ago(note.sentAtMillis))  \(note.text.printable)") }
            }
        }
    }
}
