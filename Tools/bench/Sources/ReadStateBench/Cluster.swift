import Foundation
import KithAPI

/// One agent: its profile is a directory path, so its socket is PROFILE/agent.sock.
struct Device: Sendable {
    /// alice1, alice2, alice3 or bob: the profile directory's name and the device's name.
    let name: String
    let account: String
    let profile: URL
    /// The id the server gave at login, e.g. alice-PC-1.
    var deviceID = ""

    var socket: String { profile.appendingPathComponent("agent.sock").path }
}

/// The system under test, set up only with the commands an operator and a user type: a real
/// `kith server` with the accounts alice and bob, and four agents (alice1…3 and bob) logged in
/// and made contacts.
struct Cluster {
    var alice: [Device]
    var bob: Device

    static func start(_ kith: KithBinary) throws -> Cluster {
        let work = kith.work
        let password = work.appendingPathComponent("password")
        try "correct horse battery staple\n".write(to: password, atomically: true, encoding: .utf8)
        let data = work.appendingPathComponent("server").path

        for account in ["alice", "bob"] {
            try kith.run(["server", "account", "add", account, "--data", data, "--password-file", password.path])
        }
        let inviteLine = try kith.start(["server", "--data", data, "--listen", "127.0.0.1:0"],
                                        name: "server", awaiting: "invite: ")
        let invite = String(inviteLine.dropFirst("invite: ".count))
        say("server up: \(invite)")

        var devices = ["alice1", "alice2", "alice3", "bob"].map { name in
            Device(name: name, account: name == "bob" ? "bob" : "alice", profile: work.appendingPathComponent(name))
        }
        // KITH_BENCH_AGENT_ARGS: extra `kith agent` options for every agent, e.g. to compare paths;
        // the last --udp wins. By default the agents' UDP stays on loopback and DNS-SD is off.
        let extra = ProcessInfo.processInfo.environment["KITH_BENCH_AGENT_ARGS"]?.split(separator: " ").map(String.init) ?? []
        for device in devices {
            _ = try kith.start(["agent", "--profile", device.profile.path, "--foreground", "--udp", "127.0.0.1:0",
                                "--no-lan-discovery"] + extra,
                               name: device.name, awaiting: "agent running")
        }
        for index in devices.indices {
            let device = devices[index]
            let output = try kith.run(["login", invite, "--account", device.account, "--password-file", password.path,
                                       "--name", device.name, "--profile", device.profile.path, "--json"])
            devices[index].deviceID = try JSONDecoder().decode(LoginResultAPI.self, from: Data(output.utf8)).deviceID
        }
        // alice's first device is her primary: it approves the other two, which wait until they hold the roster.
        for device in devices[1..<3] {
            try kith.run(["approve", device.deviceID, "--profile", devices[0].profile.path])
        }
        try poll("alice's devices approved", timeout: 30) { state in
            for device in devices[1..<3] {
                let status = try JSONDecoder().decode(
                    StatusResult.self, from: Data(try kith.run(["status", "--profile", device.profile.path, "--json"]).utf8))
                state = "\(device.name) is \(status.role ?? "?")"
                guard status.role == "secondary" else { return false }
            }
            return true
        }
        let cluster = Cluster(alice: Array(devices.prefix(3)), bob: devices[3])
        say("logged in: " + devices.map { "\($0.name) = \($0.deviceID)" }.joined(separator: ", "))

        try kith.run(["contacts", "add", "bob", "--profile", cluster.alice[0].profile.path])
        try kith.run(["contacts", "accept", "alice", "--profile", cluster.bob.profile.path])
        try cluster.waitUntilConnected(kith)
        return cluster
    }

    /// Waits until every agent knows what the measurements need: alice and bob are contacts on
    /// all four, bob knows alice's three devices (to seal a copy for each), and each alice agent
    /// knows its two siblings (to send them viewed-notices).
    private func waitUntilConnected(_ kith: KithBinary) throws {
        try poll("contacts and device lists on every agent", timeout: 30, interval: 0.2) { state in
            for device in alice + [bob] {
                let peer = device.account == "bob" ? "alice" : "bob"
                let contacts = try JSONDecoder().decode(
                    ContactsResult.self, from: Data(try kith.run(["contacts", "--profile", device.profile.path, "--json"]).utf8))
                guard let contact = contacts.contacts.first(where: { $0.account == peer }), contact.state == "contact" else {
                    state = "\(device.name) has no contact \(peer) yet"
                    return false
                }
                if device.account == "bob" && (contact.approvedDevices ?? []).count != 3 {
                    state = "bob holds a roster of \((contact.approvedDevices ?? []).count) alice devices"
                    return false
                }
                if contact.approvedDevices == nil {
                    state = "\(device.name) holds no roster of \(peer) yet"
                    return false
                }
                if device.account == "alice" {
                    let own = try JSONDecoder().decode(
                        DevicesResult.self, from: Data(try kith.run(["devices", "--profile", device.profile.path, "--json"]).utf8))
                    guard own.devices.count == 3 else {
                        state = "\(device.name) lists \(own.devices.count) devices"
                        return false
                    }
                }
            }
            return true
        }
        say("contacts: alice and bob on every agent; bob sees 3 alice devices; each alice agent lists 3 devices")
    }

    /// Gives direct paths (issue 4) up to `timeout` seconds to come up from `reader` to its
    /// siblings, and returns the paths then (see `siblingPaths`). Agents started with `--udp off`
    /// stay on the relay, and so does the measurement.
    func settledSiblingPaths(_ reader: LocalAPIClient, timeout: Double = 10) throws -> String {
        let start = monotonicNanos()
        while true {
            let paths = try siblingPaths(reader)
            if !paths.contains(" relay") || secondsSince(start) > timeout { return paths }
            usleep(200_000)
        }
    }

    /// How `reader` reaches each other alice device now, by name ("alice2 relay, alice3 relay"):
    /// the path the viewed-notices take, as the reader's `devices` reports it.
    func siblingPaths(_ reader: LocalAPIClient) throws -> String {
        let devices = try reader.call(DevicesRequest()).devices
        return alice.filter { $0.name != reader.name }.map { sibling in
            "\(sibling.name) \(devices.first { $0.id == sibling.deviceID }?.path ?? "unknown")"
        }.joined(separator: ", ")
    }
}
