import Foundation

/// Where one profile's agent keeps things. A profile is a name (kept under
/// `$XDG_DATA_HOME/kith/NAME`, by default `~/.local/share/kith/NAME`) or, if it contains a `/`,
/// a directory path. The socket is always in the profile's directory (mode 0700): it used to move
/// to `$XDG_RUNTIME_DIR` when that was set, so an agent started from a desktop session and a CLI
/// run through ssh, cron or sudo (where it is not) looked in two places.
public struct AgentPaths: Sendable {
    public let profile: String
    public let directory: URL
    public let socket: URL

    public init(profile option: String?, environment: [String: String] = ProcessInfo.processInfo.environment) {
        let profile = option ?? environment["KITH_PROFILE"].flatMap { $0.isEmpty ? nil : $0 } ?? "default"
        self.profile = profile
        if profile.contains("/") {
            directory = URL(fileURLWithPath: profile).standardizedFileURL
            socket = directory.appendingPathComponent("agent.sock")
        } else {
            let dataHome = environment["XDG_DATA_HOME"].map { URL(fileURLWithPath: $0) }
                ?? URL(fileURLWithPath: NSHomeDirectory()).appendingPathComponent(".local/share")
            directory = dataHome.appendingPathComponent("kith/\(profile)")
            socket = directory.appendingPathComponent("agent.sock")
        }
    }

    public var store: URL { directory.appendingPathComponent("agent.sqlite") }
    public var log: URL { directory.appendingPathComponent("agent.log") }
    public var lock: URL { directory.appendingPathComponent("agent.lock") }
    /// The profile's settings (`AgentConfigFile`, `kith config`).
    public var config: URL { directory.appendingPathComponent("config.toml") }

    /// Unix socket paths are limited to 107 bytes.
    public var socketPathProblem: String? {
        socket.path.utf8.count > 107 ? "the socket path \(socket.path) is longer than 107 bytes; use a shorter --profile path" : nil
    }
}
