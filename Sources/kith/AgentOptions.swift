import ArgumentParser
import Foundation
import KithAgent
import KithCore
import KithWire

/// The options of one agent run: a flag given to `kith agent`, else the profile's settings file
/// (`config.toml`, `kith config`), else the built-in default. Checked as a whole, so a bad value in
/// the file is refused as a bad flag is, and names where it came from.
struct AgentOptions {
    /// The flags as given (nil: not given).
    struct Flags {
        var logLevel: LogLevelOption?
        var noticeClip: String?
        var noticeClipBytes: Int?
        var noticeHoldHours: Int?
        var udp: String?
        var lanDiscovery: Bool?
        var receiveDir: String?
        var receiveSiblings: String?
        var receiveFrom: [String]?
        var maxSendRate: String?
        var offerTimeout: Int?
        var abandonAfterHours: Int?
        var allowHiddenNames: Bool?

        /// The same flags on a command line (the background agent gets them so).
        var arguments: [String] {
            var list: [String] = []
            func add(_ name: String, _ value: String?) { if let value { list += ["--\(name)", value] } }
            add("log-level", logLevel?.rawValue)
            add("notice-clip", noticeClip)
            add("notice-clip-bytes", noticeClipBytes.map(String.init))
            add("notice-hold-hours", noticeHoldHours.map(String.init))
            add("udp", udp)
            if let lanDiscovery { list.append(lanDiscovery ? "--lan-discovery" : "--no-lan-discovery") }
            add("receive-dir", receiveDir.map { URL(fileURLWithPath: $0).standardizedFileURL.path })
            add("receive-siblings", receiveSiblings)
            for rule in receiveFrom ?? [] { add("receive-from", rule) }
            add("max-send-rate", maxSendRate)
            add("offer-timeout", offerTimeout.map(String.init))
            add("abandon-after-hours", abandonAfterHours.map(String.init))
            if let allowHiddenNames { list.append(allowHiddenNames ? "--allow-hidden-names" : "--no-allow-hidden-names") }
            return list
        }
    }

    let logLevel: LogLevelOption
    let settings: AgentSettings

    init(_ flags: Flags, config: AgentConfigFile) throws(ValidationError) {
        /// `flag`'s value, else the file's (`from` says which, for the message), else `fallback`.
        func pick<T>(_ flag: T?, _ key: String, _ file: T?, _ fallback: T) -> (value: T, from: String) {
            if let flag { return (flag, "--\(key)") }
            if let file { return (file, "\(key) in config.toml") }
            return (fallback, "--\(key)")
        }
        let level = pick(flags.logLevel?.rawValue, "log-level", config.string("log-level"), "info")
        guard let logLevel = LogLevelOption(rawValue: level.value) else {
            throw ValidationError("\(level.from) is trace, debug, info, notice, warning, error or critical")
        }
        self.logLevel = logLevel
        let clip = pick(flags.noticeClip, "notice-clip", config.string("notice-clip"), "start")
        guard clip.value == "off" || ClipMode(name: clip.value) != nil else { throw ValidationError("\(clip.from) is start, middle, end or off") }
        let clipBytes = pick(flags.noticeClipBytes, "notice-clip-bytes", config.integer("notice-clip-bytes"), 256)
        guard (1...4096).contains(clipBytes.value) else { throw ValidationError("\(clipBytes.from) is 1…4096") }
        let hold = pick(flags.noticeHoldHours, "notice-hold-hours", config.integer("notice-hold-hours"), 168)
        guard hold.value > 0 else { throw ValidationError("\(hold.from) must be positive") }
        let udpText = pick(flags.udp, "udp", config.string("udp"), "0.0.0.0:0")
        var udp: HostPort?
        if udpText.value != "off" {
            do { udp = try HostPort(parsing: udpText.value, allowPortZero: true) } catch { throw ValidationError("\(udpText.from): \(error)") }
        }
        let lan = pick(flags.lanDiscovery, "lan-discovery", config.bool("lan-discovery"), true).value
        settings = AgentSettings(clip: ClipMode(name: clip.value).map { Clip(mode: $0, limit: UInt16(clipBytes.value)) },
                                 noticeHoldMillis: UInt64(hold.value) * 3_600_000, udp: udp, lanDiscovery: lan,
                                 transfers: try Self.transfers(flags, config: config))
    }

    /// The transfer options, checked (a mistake in a rule is a usage error, not a surprise later).
    private static func transfers(_ flags: Flags, config: AgentConfigFile) throws(ValidationError) -> TransferSettings {
        let siblingsText = flags.receiveSiblings ?? config.string("receive-siblings") ?? "direct"
        guard let siblings = ReceivePermission(name: siblingsText) else {
            throw ValidationError("receive-siblings is direct, ask or reject, not \(siblingsText)")
        }
        var rules: [String: ReceivePolicy.Rule] = [:]
        for text in flags.receiveFrom ?? config.strings("receive-from") ?? [] {
            let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
            let value = parts.count == 2 ? parts[1].split(separator: ":", maxSplits: 1).map(String.init) : []
            guard parts.count == 2, let permission = value.first.flatMap(ReceivePermission.init(name:)) else {
                throw ValidationError("receive-from \(text): expected DEVICE=direct|ask|reject[:FOLDER]")
            }
            let folder = value.count == 2 ? value[1] : nil
            if let folder, !folder.hasPrefix("/") { throw ValidationError("receive-from \(text): the folder must be absolute") }
            rules[parts[0]] = ReceivePolicy.Rule(permission, folder: folder)
        }
        var rate: UInt64?
        if let text = flags.maxSendRate ?? config.string("max-send-rate") {
            guard let parsed = parseRate(text) else { throw ValidationError("max-send-rate: a number like 500K, 20M or 1G, not \(text)") }
            rate = parsed
        }
        let folder = (flags.receiveDir ?? config.string("receive-dir")).map { URL(fileURLWithPath: $0).standardizedFileURL.path }
            ?? TransferSettings.defaultReceiveFolder
        let ttl = flags.offerTimeout ?? config.integer("offer-timeout") ?? 600
        guard let offerTTL = UInt32(exactly: ttl), offerTTL > 0 else { throw ValidationError("offer-timeout is 1…\(UInt32.max) seconds") }
        var settings = TransferSettings(receiveFolder: folder, policy: ReceivePolicy(rules: rules, siblings: ReceivePolicy.Rule(siblings)),
                                        maxSendRate: rate, offerTTLSeconds: offerTTL)
        settings.abandonAfterMillis = UInt64(flags.abandonAfterHours ?? config.integer("abandon-after-hours") ?? 168) * 3_600_000
        settings.allowHiddenNames = flags.allowHiddenNames ?? config.bool("allow-hidden-names") ?? false
        return settings
    }

    static func parseRate(_ text: String) -> UInt64? {
        let units: [Character: UInt64] = ["K": 1000, "M": 1_000_000, "G": 1_000_000_000]
        guard let last = text.uppercased().last else { return nil }
        if let unit = units[last] { return UInt64(text.dropLast()).map { $0 * unit } }
        return UInt64(text)
    }
}
