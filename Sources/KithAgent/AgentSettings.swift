import KithCore

/// What a user may tune in an agent; set by `kith agent` options.
public struct AgentSettings: Sendable {
    /// How viewed-notices quote a message's text, for devices that hold it under another id; nil: not at all.
    public var clip: Clip?
    /// How long a viewed-notice whose message has not arrived is held before it is dropped.
    public var noticeHoldMillis: UInt64
    /// Where the UDP socket for direct paths binds; nil: no direct paths, the relay only.
    public var udp: HostPort?
    /// Announce and browse `_kith._udp` with DNS-SD (needs a UDP socket and avahi-daemon).
    public var lanDiscovery: Bool
    /// Where pushed files land, who may push what, how fast this device sends.
    public var transfers: TransferSettings

    public init(clip: Clip? = .default, noticeHoldMillis: UInt64 = 7 * 24 * 3600 * 1000,
                udp: HostPort? = HostPort(host: "0.0.0.0", port: 0), lanDiscovery: Bool = true,
                transfers: TransferSettings = TransferSettings()) {
        self.transfers = transfers
        self.lanDiscovery = lanDiscovery
        self.clip = clip
        self.noticeHoldMillis = noticeHoldMillis
        self.udp = udp
    }
}
