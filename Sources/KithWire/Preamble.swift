/// The eight plaintext bytes that open every Kith TCP connection, before the Noise handshake:
/// `"KITH"`, the protocol version (u16), the channel kind (u8), and a zero byte.
///
/// It lets a responder refuse an old or future client with a clear answer instead of a failed
/// handshake (spec §Preamble). The prologue of the handshake repeats these bytes, so a
/// preamble altered in transit makes the handshake fail.
public struct Preamble: Equatable, Sendable {
    public enum Channel: UInt8, Sendable {
        /// Agent to server, `Noise_IK`: the agent knows the server's key from its invite.
        case agentToServer = 1
        /// Device to device over TCP when the peer's key is in the roster, `Noise_IK`.
        case deviceToDevice = 2
        /// First LAN pairing, no key known yet, `Noise_XX`.
        case pairing = 3
        /// To the server's port: a relayed device stream (spec §Transit). No handshake with the
        /// server: a 16-byte ticket follows, then the device stream inside, end to end.
        case transit = 4
    }

    public static let magic: [UInt8] = Array("KITH".utf8)
    public static let length = 8

    public var version: UInt16
    public var channel: Channel

    public init(version: UInt16 = WireLimits.protocolVersion, channel: Channel) {
        self.version = version
        self.channel = channel
    }

    public var bytes: [UInt8] {
        var out = Self.magic
        out.appendInteger(version)
        out.append(channel.rawValue)
        out.append(0)
        return out
    }

    /// Nil until eight bytes are there; then the preamble or a typed error. A version other
    /// than ours is reported as `.unsupportedVersion` only after the magic matched.
    public static func decode(_ buffer: ArraySlice<UInt8>) throws(WireError) -> Preamble? {
        guard buffer.count >= length else {
            // Refuse a wrong magic as soon as its bytes are in, without waiting for all eight.
            guard buffer.prefix(magic.count).elementsEqual(magic.prefix(buffer.count)) else {
                throw .malformed("preamble: bad magic")
            }
            return nil
        }
        var reader = ByteReader(buffer.prefix(length), what: "preamble")
        guard try reader.readBytes(4).elementsEqual(magic) else { throw .malformed("preamble: bad magic") }
        let version: UInt16 = try reader.readInteger()
        let channelByte: UInt8 = try reader.readInteger()
        let reserved: UInt8 = try reader.readInteger()
        guard version == WireLimits.protocolVersion else {
            throw .unsupportedVersion("preamble: version \(version), this build speaks \(WireLimits.protocolVersion)")
        }
        guard let channel = Channel(rawValue: channelByte) else { throw .unknownType("preamble: channel \(channelByte)") }
        guard reserved == 0 else { throw .malformed("preamble: reserved byte \(reserved)") }
        return Preamble(version: version, channel: channel)
    }
}
