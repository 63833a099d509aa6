import KithAPI
import ArgumentParser
import Foundation
import KithAgent

extension Kith {
    struct Devices: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "devices",
            abstract: "List the devices of your account, your contacts under \"my devices\".",
            discussion: """
                PATH says how this device reaches each other one: lan (directly, on a shared network), \
                direct (directly, through NATs), or relay (through the server), with the round-trip \
                time of a direct path. `kith status --paths` says why a path is relayed. ROLE is the \
                device's place in the roster the primary signed: primary, secondary, or pending (logged \
                in, waiting for `kith approve` on the primary; it gets nothing from its siblings until then).
                """)
        @OptionGroup var options: ClientOptions

        @Flag(help: "Only the devices waiting for approval, with the fingerprints to compare.")
        var pending = false

        func run() throws {
            if pending { return try showPending() }
            let result = try options.client.call(DevicesRequest())
            let roster = try options.client.call(RosterRequest())
            let now = UInt64(Date().timeIntervalSince1970 * 1000)
            options.output(result) {
                Console.line("my devices (\(result.account)):")
                // ROLE and STATE come from the agent's one derivation (DeviceStatus), so they never disagree with PATH.
                let rows = [["", "ID", "NAME", "TYPE", "ROLE", "STATE", "PATH", "LAST SEEN", "FINGERPRINT"]] + result.devices.map {
                    [$0.isThisDevice ? "*" : "", $0.id.printable, $0.name.printable, $0.type, $0.role ?? "unknown",
                     $0.online ? "online" : "offline", $0.path + ($0.rttMillis.map { String(format: " %.1f ms", $0) } ?? ""),
                     DeviceStatus.lastSeen(online: $0.online, lastSeenMillis: $0.lastSeenMillis, nowMillis: now), $0.fingerprint]
                }
                Console.table(rows)
                if roster.role == "pending" {
                    Console.line("this device is waiting for approval: on \(roster.primary ?? "the primary"), check its fingerprint \(roster.fingerprint) and run `kith approve \(roster.deviceID)`")
                }
            }
        }

        private func showPending() throws {
            let roster = try options.client.call(RosterRequest())
            options.output(roster.pending) {
                if roster.pending.isEmpty { Console.line("no device is waiting for approval") }
                else {
                    Console.table([["ID", "NAME", "STATE", "FINGERPRINT"]] + roster.pending.map {
                        [$0.id.printable, $0.name.printable, $0.online ? "online" : "offline", $0.fingerprint]
                    })
                    Console.line("compare the fingerprint with the one the device shows (`kith status`), then `kith approve ID` or `kith deny ID`")
                }
            }
        }
    }
}

extension Kith {
    struct Discover: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "discover",
            abstract: "List the Kith agents seen on this LAN with DNS-SD, your own devices marked.",
            discussion: """
                The agent announces a _kith._udp service and browses for the others (through \
                avahi-daemon). A service that claims to be one of your devices is only trusted once a \
                handshake with that device's key succeeds at its address (VERIFIED); anything else is \
                listed, never trusted.
                """)
        @OptionGroup var options: ClientOptions

        @Option(help: "Wait this many seconds for answers before listing.")
        var timeout = 3.0

        func run() throws {
            let deadline = Date().addingTimeInterval(timeout)
            var result = try options.client.call(DiscoverRequest())
            while Date() < deadline {
                usleep(250_000)
                result = try options.client.call(DiscoverRequest())
            }
            options.output(result) {
                if let problem = result.problem { Console.line("LAN discovery is off: \(problem)") }
                if result.services.isEmpty { Console.line("no Kith agents seen on the LAN") }
                let rows = [["NAME", "ADDRESS", "FINGERPRINT", "DEVICE"]] + result.services.map { s in
                    [s.name.printable, s.address, s.fingerprint?.printable ?? "(not a Kith record)",
                     s.isThisDevice ? "\(s.device?.printable ?? "") (this device)"
                        : s.device.map { s.verified ? "\($0.printable) (mine, verified)" : "claims \($0.printable), not verified" }
                        ?? (s.kith ? "not yours" : "-")]
                }
                if rows.count > 1 { Console.table(rows) }
            }
        }
    }
}
