/// Kith's UDP packets between devices, in the style of WireGuard (spec §UDP packets).
///
/// Every packet starts with four bytes: type, protocol version, and two zero bytes. Indices are
/// random 32-bit numbers each side picks for a session, so a receiver finds the session from
/// the packet alone, whatever address it came from (roaming, NAT rebinding).
public enum Datagram: Equatable, Sendable {
    /// The first Noise message, from the side that starts the session.
    case handshakeInitiation(senderIndex: UInt32, noiseMessage: [UInt8])
    /// The second Noise message; `receiverIndex` echoes the initiator's sender index.
    case handshakeResponse(senderIndex: UInt32, receiverIndex: UInt32, noiseMessage: [UInt8])
    /// A transport message under the session's keys: the counter is the AEAD nonce, sent
    /// explicitly because datagrams arrive out of order.
    case transportData(receiverIndex: UInt32, counter: UInt64, ciphertext: [UInt8])
    /// Agent → server's UDP port: "what address do you see me at?" (`nonce`: 16 random bytes).
    case endpointProbe(nonce: [UInt8])
    /// Server → agent: the source address the probe came from, and the probe's nonce.
    case endpointReply(nonce: [UInt8], observed: EndpointAddress)
    /// A responder under load → the initiator: a cookie (sealed) instead of a handshake;
    /// `receiverIndex` echoes the initiation's sender index.
    case cookieReply(receiverIndex: UInt32, nonce: [UInt8], sealedCookie: [UInt8])
    /// A handshake initiation that carries mac2 (the cookie's MAC) after mac1; `rest` is the
    /// Noise message, mac1 and mac2, as sent.
    case cookiedInitiation(senderIndex: UInt32, rest: [UInt8])

    public enum PacketType: UInt8, Sendable {
        case handshakeInitiation = 1
        case handshakeResponse = 2
        case transportData = 3
        case endpointProbe = 4
        case endpointReply = 5
        case cookieReply = 6
        case cookiedInitiation = 7
    }

    public static let probeNonceLength = 16
    /// A cookie reply's nonce and sealed cookie (XChaCha20-Poly1305: 16-byte cookie, 16-byte tag).
    public static let cookieNonceLength = 24
    public static let sealedCookieLength = 32
    /// mac1 and mac2 are 16 bytes each.
    public static let macLength = 16
    /// An endpoint probe is padded with zero bytes to this length, the largest endpoint reply's
    /// (IPv6): a server answers no probe with more bytes than it got (spec §UDP packets).
    public static let probeLength = 39

    public static let headerLength = 4
    /// The smallest Noise handshake message: one ephemeral key (an XX first message with an
    /// empty payload has no tag).
    public static let minHandshakeMessage = 32

    public var packetType: PacketType {
        switch self {
        case .handshakeInitiation: .handshakeInitiation
        case .handshakeResponse: .handshakeResponse
        case .transportData: .transportData
        case .endpointProbe: .endpointProbe
        case .endpointReply: .endpointReply
        case .cookieReply: .cookieReply
        case .cookiedInitiation: .cookiedInitiation
        }
    }

    public func encode() throws(WireError) -> [UInt8] {
        var out: [UInt8] = [packetType.rawValue, UInt8(WireLimits.protocolVersion), 0, 0]
        switch self {
        case let .handshakeInitiation(sender, message):
            out.appendInteger(sender)
            out += message
        case let .handshakeResponse(sender, receiver, message):
            out.appendInteger(sender)
            out.appendInteger(receiver)
            out += message
        case let .transportData(receiver, counter, ciphertext):
            out.appendInteger(receiver)
            out.appendInteger(counter)
            out += ciphertext
        case let .endpointProbe(nonce):
            guard nonce.count == Self.probeNonceLength else { throw .malformed("endpoint probe: nonce of \(nonce.count) bytes") }
            out += nonce
            out += [UInt8](repeating: 0, count: Self.probeLength - out.count)
        case let .endpointReply(nonce, observed):
            guard nonce.count == Self.probeNonceLength else { throw .malformed("endpoint reply: nonce of \(nonce.count) bytes") }
            out += nonce
            out.append(observed.ip.count == 4 ? 4 : 6)
            out += observed.ip
            out.appendInteger(observed.port)
        case let .cookieReply(receiver, nonce, sealed):
            guard nonce.count == Self.cookieNonceLength, sealed.count == Self.sealedCookieLength else {
                throw .malformed("cookie reply: nonce of \(nonce.count) bytes, cookie of \(sealed.count)")
            }
            out.appendInteger(receiver)
            out += nonce
            out += sealed
        case let .cookiedInitiation(sender, rest):
            out.appendInteger(sender)
            out += rest
        }
        guard out.count <= WireLimits.maxDatagram else {
            throw .oversized("datagram: \(out.count) bytes, limit \(WireLimits.maxDatagram)")
        }
        return out
    }

    /// Decodes one whole datagram. Checks structure only; the session layer authenticates.
    public static func decode(_ bytes: ArraySlice<UInt8>) throws(WireError) -> Datagram {
        guard bytes.count <= WireLimits.maxDatagram else {
            throw .oversized("datagram: \(bytes.count) bytes, limit \(WireLimits.maxDatagram)")
        }
        var reader = ByteReader(bytes, what: "datagram")
        let typeByte: UInt8 = try reader.readInteger()
        let version: UInt8 = try reader.readInteger()
        let reserved: UInt16 = try reader.readInteger()
        guard version == UInt8(WireLimits.protocolVersion) else {
            throw .unsupportedVersion("datagram: version \(version)")
        }
        guard let type = PacketType(rawValue: typeByte) else { throw .unknownType("datagram: type \(typeByte)") }
        guard reserved == 0 else { throw .malformed("datagram: reserved bytes \(reserved)") }
        switch type {
        case .handshakeInitiation:
            let sender: UInt32 = try reader.readInteger()
            let message = reader.readRest()
            guard message.count >= minHandshakeMessage else { throw .truncated("handshake initiation: \(message.count) bytes") }
            return .handshakeInitiation(senderIndex: sender, noiseMessage: Array(message))
        case .handshakeResponse:
            let sender: UInt32 = try reader.readInteger()
            let receiver: UInt32 = try reader.readInteger()
            let message = reader.readRest()
            guard message.count >= minHandshakeMessage else { throw .truncated("handshake response: \(message.count) bytes") }
            return .handshakeResponse(senderIndex: sender, receiverIndex: receiver, noiseMessage: Array(message))
        case .transportData:
            let receiver: UInt32 = try reader.readInteger()
            let counter: UInt64 = try reader.readInteger()
            let ciphertext = reader.readRest()
            guard ciphertext.count >= WireLimits.aeadTag else { throw .truncated("transport data: \(ciphertext.count) bytes") }
            return .transportData(receiverIndex: receiver, counter: counter, ciphertext: Array(ciphertext))
        case .endpointProbe:
            let nonce = try reader.readBytes(probeNonceLength)
            // Padding: zero bytes, as many as the sender likes (this version sends 19).
            guard reader.readRest().allSatisfy({ $0 == 0 }) else { throw .malformed("endpoint probe: padding that is not zero") }
            return .endpointProbe(nonce: Array(nonce))
        case .endpointReply:
            let nonce = try reader.readBytes(probeNonceLength)
            let family: UInt8 = try reader.readInteger()
            guard family == 4 || family == 6 else { throw .malformed("endpoint reply: address family \(family)") }
            let ip = try reader.readBytes(family == 4 ? 4 : 16)
            let port: UInt16 = try reader.readInteger()
            guard reader.remaining == 0 else { throw .malformed("endpoint reply: \(reader.remaining) bytes after the address") }
            return .endpointReply(nonce: Array(nonce), observed: EndpointAddress(ip: Array(ip), port: port))
        case .cookieReply:
            let receiver: UInt32 = try reader.readInteger()
            let nonce = try reader.readBytes(cookieNonceLength)
            let sealed = try reader.readBytes(sealedCookieLength)
            guard reader.remaining == 0 else { throw .malformed("cookie reply: \(reader.remaining) bytes after the cookie") }
            return .cookieReply(receiverIndex: receiver, nonce: Array(nonce), sealedCookie: Array(sealed))
        case .cookiedInitiation:
            let sender: UInt32 = try reader.readInteger()
            let rest = reader.readRest()
            guard rest.count >= minHandshakeMessage + 2 * macLength else {
                throw .truncated("handshake initiation with cookie: \(rest.count) bytes")
            }
            return .cookiedInitiation(senderIndex: sender, rest: Array(rest))
        }
    }
}

/// An IPv4 or IPv6 address and a UDP port, as the server saw a probe come from.
public struct EndpointAddress: Hashable, Sendable, CustomStringConvertible {
    /// 4 bytes (IPv4) or 16 (IPv6), network order.
    public var ip: [UInt8]
    public var port: UInt16

    public init(ip: [UInt8], port: UInt16) {
        precondition(ip.count == 4 || ip.count == 16, "an IP address is 4 or 16 bytes")
        self.ip = ip
        self.port = port
    }

    /// `1.2.3.4:5` or `[2001:db8::1]:5` (IPv6 without zero compression).
    public var description: String {
        if ip.count == 4 { return ip.map(String.init).joined(separator: ".") + ":\(port)" }
        let groups = stride(from: 0, to: 16, by: 2).map { String(UInt16(ip[$0]) << 8 | UInt16(ip[$0 + 1]), radix: 16) }
        return "[" + groups.joined(separator: ":") + "]:\(port)"
    }
}
