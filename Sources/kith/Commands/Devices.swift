import ArgumentParser
import Foundation
import KithAgent

extension Kith {
    struct Devices: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the devices of your account, your contacts under \"my devices\".",
            discussion: """
                PATH says how this device reaches each other one: lan (directly, on a shared network), \
                direct (directly, through NATs), or relay (through the server), with the round-trip \
                time of a direct path. `kith status --paths` says why a path is relayed.
                """)
        @OptionGroup var options: ClientOptions

        func run() throws {
            let result = try options.client.call(AgentRequest(.devices), as: DevicesResult.self)
            options.output(result) {
                Console.line("my devices (\(result.account)):")
                let rows = [["", "ID", "NAME", "TYPE", "STATE", "PATH", "LAST SEEN", "FINGERPRINT"]] + result.devices.map {
                    [$0.isThisDevice ? "*" : "", $0.id.printable, $0.name.printable, $0.type, $0.online ? "online" : "offline", $0.path + ($0.rttMillis.map { String(format: " %.1f ms", $0) } ?? ""),
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
}
