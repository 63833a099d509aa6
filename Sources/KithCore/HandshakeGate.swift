import KithCrypto
import KithWire

/// What a responder does with a UDP handshake initiation before any Diffie-Hellman (spec §UDP
/// packets, Handshake over UDP): mac1 must be right for its key; under load the initiation must
/// also carry mac2, keyed with a cookie that proves its source address, or it gets a cookie
/// reply instead of a handshake; and each source address is held to its rate. One hash for an
/// initiation made for another key, one hash and one small AEAD for a flood under load, four
/// scalar multiplications only for what passes. Pure: time and randomness are passed in.
public struct HandshakeGate {
    public enum Verdict: Equatable, Sendable {
        /// Read the initiation and answer it (the Noise handshake decides the rest).
        case answer
        /// Send this cookie reply to the source, and nothing else.
        case cookieReply([UInt8])
        case drop(Reason)
    }

    public enum Reason: Equatable, Sendable {
        /// Not an initiation of a known layout, or mac1 is not this responder's.
        case wrongMAC
        /// Over the source address's rate (the address is proven by mac2 when under load).
        case overRate
    }

    /// Initiations with a right mac1 in one second at which the responder counts as under load.
    public let loadThreshold: Int
    /// How long a cookie secret is used; a cookie made with the one before it is still taken.
    public static let secretLifetimeMillis: UInt64 = 120_000

    private let mac1: HandshakeMAC
    private let sealingKey: [UInt8]
    private var rate: HandshakeRateLimit
    private let random: (Int) -> [UInt8]
    private var secrets: (current: [UInt8], previous: [UInt8]?, madeAt: UInt64)?
    private var window: (startedAt: UInt64, count: Int, lastCount: Int) = (0, 0, 0)

    /// `random(n)`: n bytes from a CSPRNG (cookie secrets and reply nonces).
    public init(responder: PublicKey, loadThreshold: Int = 64, rate: HandshakeRateLimit = HandshakeRateLimit(),
                random: @escaping (Int) -> [UInt8]) {
        mac1 = HandshakeMAC(responder: responder)
        sealingKey = HandshakeCookie.sealingKey(responder: responder)
        self.loadThreshold = loadThreshold
        self.rate = rate
        self.random = random
    }

    /// Whether more initiations with a right mac1 arrived in this second or the last than `loadThreshold`.
    public func underLoad(nowMillis: UInt64) -> Bool {
        let (startedAt, count, lastCount) = window
        if nowMillis &- startedAt >= 2000 { return false }
        if nowMillis &- startedAt >= 1000 { return count >= loadThreshold }
        return max(count, lastCount) >= loadThreshold
    }

    /// Weighs one datagram of type 1 or 7 from `source`.
    public mutating func weigh(_ packet: ArraySlice<UInt8>, from source: EndpointAddress, nowMillis: UInt64) -> Verdict {
        let macs: Int
        switch packet.first.flatMap(Datagram.PacketType.init(rawValue:)) {
        case .handshakeInitiation?: macs = 1
        case .cookiedInitiation?: macs = 2
        default: return .drop(.wrongMAC)
        }
        let withMAC1 = packet.dropLast((macs - 1) * HandshakeMAC.length)
        guard packet.count >= Datagram.headerLength + 4 + Datagram.minHandshakeMessage + macs * HandshakeMAC.length,
              mac1.verifies(withMAC1)
        else { return .drop(.wrongMAC) }
        count(nowMillis)
        if underLoad(nowMillis: nowMillis) && !(macs == 2 && carriesCookie(packet, of: source, nowMillis: nowMillis)) {
            return .cookieReply(cookieReply(to: withMAC1, for: source, nowMillis: nowMillis))
        }
        // The rate is per IP address: another port of one host is not another source.
        let host = EndpointAddress(ip: source.ip, port: 0).description
        return rate.allow(host, nowMillis: nowMillis) ? .answer : .drop(.overRate)
    }

    private mutating func count(_ nowMillis: UInt64) {
        let elapsed = nowMillis &- window.startedAt
        if elapsed >= 2000 {
            window = (nowMillis, 0, 0)
        } else if elapsed >= 1000 {
            window = (window.startedAt + 1000, 0, window.count)
        }
        window.count += 1
    }

    private mutating func carriesCookie(_ packet: ArraySlice<UInt8>, of source: EndpointAddress, nowMillis: UInt64) -> Bool {
        let secrets = currentSecrets(nowMillis)
        return ([secrets.current] + (secrets.previous.map { [$0] } ?? [])).contains {
            HandshakeCookie.verifiesMAC2(packet, cookie: HandshakeCookie.cookie(secret: $0, source: Self.bytes(of: source)))
        }
    }

    private mutating func cookieReply(to withMAC1: ArraySlice<UInt8>, for source: EndpointAddress, nowMillis: UInt64) -> [UInt8] {
        let cookie = HandshakeCookie.cookie(secret: currentSecrets(nowMillis).current, source: Self.bytes(of: source))
        let nonce = random(Datagram.cookieNonceLength)
        let sealed = HandshakeCookie.seal(cookie, key: sealingKey, nonce: nonce, mac1: Array(withMAC1.suffix(HandshakeMAC.length)))
        let senderIndex = withMAC1.dropFirst(Datagram.headerLength).prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        // Cannot fail: the nonce and the sealed cookie have their fixed lengths.
        return (try? Datagram.cookieReply(receiverIndex: senderIndex, nonce: nonce, sealedCookie: sealed).encode()) ?? []
    }

    private mutating func currentSecrets(_ nowMillis: UInt64) -> (current: [UInt8], previous: [UInt8]?) {
        if let secrets, nowMillis &- secrets.madeAt < Self.secretLifetimeMillis { return (secrets.current, secrets.previous) }
        let fresh = random(HandshakeCookie.secretLength)
        let previous = secrets.flatMap { nowMillis &- $0.madeAt < 2 * Self.secretLifetimeMillis ? $0.current : nil }
        secrets = (fresh, previous, nowMillis)
        return (fresh, previous)
    }

    /// An address as a cookie covers it: the IP's bytes in network order, then the port, u16 big-endian.
    public static func bytes(of address: EndpointAddress) -> [UInt8] {
        address.ip + [UInt8(address.port >> 8), UInt8(address.port & 0xff)]
    }
}

/// The cookies an initiator was given (spec §UDP packets, Type 6): one per responder address,
/// kept for a little less than the two minutes a responder is bound to take it. The next
/// initiation to that address carries mac2 (type 7). Pure; time is passed in.
public struct CookieJar: Sendable {
    public static let keptMillis: UInt64 = 110_000
    private var cookies: [String: (cookie: [UInt8], receivedAt: UInt64)] = [:]

    public init() {}

    /// Takes the cookie of a reply to the initiation whose mac1 was `mac1`, sent to `responder`
    /// at `address`; false (and nothing kept) if the reply does not open with that responder's key.
    public mutating func take(nonce: [UInt8], sealedCookie: [UInt8], responder: PublicKey, mac1: [UInt8],
                              address: String, nowMillis: UInt64) -> Bool {
        guard let cookie = HandshakeCookie.open(sealedCookie, key: HandshakeCookie.sealingKey(responder: responder),
                                                nonce: nonce, mac1: mac1)
        else { return false }
        cookies = cookies.filter { nowMillis &- $0.value.receivedAt < Self.keptMillis }
        cookies[address] = (cookie, nowMillis)
        return true
    }

    /// The cookie for initiations to `address`, if one is fresh.
    public func cookie(for address: String, nowMillis: UInt64) -> [UInt8]? {
        guard let kept = cookies[address], nowMillis &- kept.receivedAt < Self.keptMillis else { return nil }
        return kept.cookie
    }
}
