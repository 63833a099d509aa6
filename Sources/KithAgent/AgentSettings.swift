import KithCore

/// What a user may tune in an agent; set by `kith agent` options.
public struct AgentSettings: Sendable {
    /// How viewed-notices quote a message's text, for devices that hold it under another id; nil: not at all.
    public var clip: Clip?
    /// How long a viewed-notice whose message has not arrived is held before it is dropped.
    public var noticeHoldMillis: UInt64

    public init(clip: Clip? = .default, noticeHoldMillis: UInt64 = 7 * 24 * 3600 * 1000) {
        self.clip = clip
        self.noticeHoldMillis = noticeHoldMillis
    }
}
