/// Kith's wire limits, one place for all of them. Each names the section of
/// Protocol/spec.md that defines it.
public enum WireLimits {
    /// The protocol version this build speaks (spec §Versioning).
    public static let protocolVersion: UInt16 = 0
    /// Noise's own limit on one message, which bounds a TCP frame's body (spec §TCP framing).
    public static let maxNoiseMessage = 65535
    /// The AEAD tag every Noise transport message ends with.
    public static let aeadTag = 16
    /// The smallest frame body: an empty Noise transport message is just its tag (spec §TCP framing).
    public static let minFrameBody = 16
    /// The largest plaintext an envelope may be: a Noise message less its tag (spec §Envelope).
    public static let maxEnvelope = maxNoiseMessage - aeadTag
    /// The largest UDP datagram Kith sends or accepts (spec §UDP packets): fits a 1500-byte
    /// path MTU with IPv6 and UDP headers and room for tunnels.
    public static let maxDatagram = 1400
    /// Fields in one message, to bound the work a hostile envelope can cause (spec §Envelope).
    public static let maxFields = 256
    /// Nesting depth of messages inside messages (spec §Envelope).
    public static let maxNesting = 4
}
