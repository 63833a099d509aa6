/// Noise's HandshakeState (§5.3), generic over every pattern: it walks the pattern's tokens.
///
/// A value type driven by two events, `writeMessage` and `readMessage`; it does no I/O and
/// takes its ephemeral keys from an injected source, so a test can replay a handshake exactly.
/// After any thrown error the handshake is dead and every later call throws `.outOfTurn`.
public struct NoiseHandshake {
    public enum Role: Sendable { case initiator, responder }

    public struct Configuration {
        public var protocolName: NoiseProtocolName
        public var role: Role
        public var prologue: [UInt8]
        public var localStatic: KeyPair?
        /// The peer's static key when the pattern announces it in a pre-message (`<- s` for an initiator).
        public var remoteStatic: PublicKey?
        /// Pre-message ephemerals (fallback-style patterns); normally nil.
        public var localEphemeral: KeyPair?
        public var remoteEphemeral: PublicKey?
        /// One 32-byte key per `psk` token, in the order the tokens appear.
        public var preSharedKeys: [SecretBytes]
        /// Where fresh ephemeral keys come from; the CSPRNG unless a test replays a handshake.
        public var ephemeralSource: () -> KeyPair

        public init(protocolName: NoiseProtocolName, role: Role, prologue: [UInt8] = [],
                    localStatic: KeyPair? = nil, remoteStatic: PublicKey? = nil,
                    localEphemeral: KeyPair? = nil, remoteEphemeral: PublicKey? = nil,
                    preSharedKeys: [SecretBytes] = [], ephemeralSource: @escaping () -> KeyPair = KeyPair.generate) {
            self.protocolName = protocolName
            self.role = role
            self.prologue = prologue
            self.localStatic = localStatic
            self.remoteStatic = remoteStatic
            self.localEphemeral = localEphemeral
            self.remoteEphemeral = remoteEphemeral
            self.preSharedKeys = preSharedKeys
            self.ephemeralSource = ephemeralSource
        }
    }

    /// Noise's limit on any message (§3).
    public static let maxMessageLength = 65535

    public let role: Role
    public let pattern: NoisePattern
    private var symmetric: SymmetricState
    private var s: KeyPair?
    private var e: KeyPair?
    public private(set) var remoteStatic: PublicKey?
    public private(set) var remoteEphemeral: PublicKey?
    private let psks: [SecretBytes]
    private var pskIndex = 0
    private let ephemeralSource: () -> KeyPair
    private var messageIndex = 0
    private var failed = false
    /// Set once the last pattern message has been written or read.
    public private(set) var transport: NoiseTransport?

    public init(_ configuration: Configuration) throws(NoiseError) {
        let pattern = configuration.protocolName.pattern
        role = configuration.role
        self.pattern = pattern
        s = configuration.localStatic
        e = configuration.localEphemeral
        remoteStatic = configuration.remoteStatic
        remoteEphemeral = configuration.remoteEphemeral
        psks = configuration.preSharedKeys
        ephemeralSource = configuration.ephemeralSource
        symmetric = SymmetricState(protocolName: configuration.protocolName)

        try Self.checkKeys(configuration, pattern: pattern)
        symmetric.mixHash(configuration.prologue)
        let initiatorKeys = role == .initiator ? (s?.publicKey, e?.publicKey) : (remoteStatic, remoteEphemeral)
        let responderKeys = role == .responder ? (s?.publicKey, e?.publicKey) : (remoteStatic, remoteEphemeral)
        for (tokens, keys) in [(pattern.initiatorPreMessage, initiatorKeys), (pattern.responderPreMessage, responderKeys)] {
            for token in tokens {
                let key = token == .s ? keys.0! : keys.1!  // presence checked by checkKeys
                symmetric.mixHash(key.rawValue)
                if token == .e && pattern.usesPSK { symmetric.mixKey(key.rawValue) }
            }
        }
    }

    /// Fails early, with the name of the missing key, instead of in the middle of a message.
    private static func checkKeys(_ c: Configuration, pattern: NoisePattern) throws(NoiseError) {
        let mine = c.role == .initiator ? 0 : 1
        let myPre = mine == 0 ? pattern.initiatorPreMessage : pattern.responderPreMessage
        let theirPre = mine == 0 ? pattern.responderPreMessage : pattern.initiatorPreMessage
        let iSend = pattern.messages.indices.filter { $0 % 2 == mine }.flatMap { pattern.messages[$0] }
        if (myPre.contains(.s) || iSend.contains(.s)) && c.localStatic == nil { throw .missingKey("s") }
        if myPre.contains(.e) && c.localEphemeral == nil { throw .missingKey("e") }
        // A preset ephemeral outside a pre-message would be reused across handshakes: refuse it.
        if !myPre.contains(.e) && c.localEphemeral != nil { throw .invalidKeyLength("e: preset only for pre-message patterns") }
        if theirPre.contains(.s) && c.remoteStatic == nil { throw .missingKey("rs") }
        if theirPre.contains(.e) && c.remoteEphemeral == nil { throw .missingKey("re") }
        let pskCount = pattern.messages.joined().filter { $0 == .psk }.count
        if c.preSharedKeys.count != pskCount { throw .missingKey("psk (\(pskCount) needed, \(c.preSharedKeys.count) given)") }
        if c.preSharedKeys.contains(where: { $0.count != 32 }) { throw .invalidKeyLength("psk") }
    }

    public var isComplete: Bool { transport != nil }

    /// True when the next step is ours to write.
    public var isOurTurn: Bool {
        !failed && !isComplete && (messageIndex % 2 == 0) == (role == .initiator)
    }

    /// The handshake hash `h`, for channel binding once the handshake is complete.
    public var handshakeHash: [UInt8] { symmetric.handshakeHash }

    /// WriteMessage: the next handshake message, carrying `payload` (encrypted once a key exists).
    public mutating func writeMessage(payload: [UInt8] = []) throws(NoiseError) -> [UInt8] {
        guard isOurTurn else { throw .outOfTurn }
        do throws(NoiseError) {
            var out: [UInt8] = []
            for token in pattern.messages[messageIndex] {
                switch token {
                case .e:
                    let ephemeral = e ?? ephemeralSource()
                    e = ephemeral
                    out += ephemeral.publicKey.rawValue
                    symmetric.mixHash(ephemeral.publicKey.rawValue)
                    if pattern.usesPSK { symmetric.mixKey(ephemeral.publicKey.rawValue) }
                case .s:
                    guard let s else { throw NoiseError.missingKey("s") }
                    out += try symmetric.encryptAndHash(s.publicKey.rawValue)
                case .ee, .es, .se, .ss:
                    try mixDH(token)
                case .psk:
                    try mixPSK()
                }
            }
            out += try symmetric.encryptAndHash(payload)
            guard out.count <= Self.maxMessageLength else { throw NoiseError.messageTooLarge(out.count) }
            advance()
            return out
        } catch {
            failed = true
            throw error
        }
    }

    /// ReadMessage: consumes a handshake message from the peer and returns its payload.
    public mutating func readMessage(_ message: [UInt8]) throws(NoiseError) -> [UInt8] {
        guard !failed && !isComplete && !isOurTurn else { throw .outOfTurn }
        do throws(NoiseError) {
            guard message.count <= Self.maxMessageLength else { throw NoiseError.messageTooLarge(message.count) }
            var rest = message[...]
            func take(_ n: Int) throws(NoiseError) -> [UInt8] {
                guard rest.count >= n else { throw .truncatedMessage }
                defer { rest = rest.dropFirst(n) }
                return Array(rest.prefix(n))
            }
            for token in pattern.messages[messageIndex] {
                switch token {
                case .e:
                    let key = PublicKey(validated: try take(NoiseProtocolName.dhLength))
                    remoteEphemeral = key
                    symmetric.mixHash(key.rawValue)
                    if pattern.usesPSK { symmetric.mixKey(key.rawValue) }
                case .s:
                    let length = NoiseProtocolName.dhLength + (symmetric.cipherState.hasKey ? NoiseCipher.tagLength : 0)
                    remoteStatic = PublicKey(validated: try symmetric.decryptAndHash(try take(length)))
                case .ee, .es, .se, .ss:
                    try mixDH(token)
                case .psk:
                    try mixPSK()
                }
            }
            if symmetric.cipherState.hasKey && rest.count < NoiseCipher.tagLength { throw NoiseError.truncatedMessage }
            let payload = try symmetric.decryptAndHash(Array(rest))
            advance()
            return payload
        } catch {
            failed = true
            throw error
        }
    }

    private mutating func mixDH(_ token: NoisePattern.Token) throws(NoiseError) {
        // The first letter names the initiator's key, the second the responder's (§7.1).
        let initiatorUsesStatic = token == .se || token == .ss
        let responderUsesStatic = token == .es || token == .ss
        let mineIsStatic = role == .initiator ? initiatorUsesStatic : responderUsesStatic
        let theirsIsStatic = role == .initiator ? responderUsesStatic : initiatorUsesStatic
        guard let local = mineIsStatic ? s : e else { throw .missingKey(mineIsStatic ? "s" : "e") }
        guard let remote = theirsIsStatic ? remoteStatic : remoteEphemeral else {
            throw .missingKey(theirsIsStatic ? "rs" : "re")
        }
        var shared = try local.privateKey.sharedSecret(with: remote).unsafeArray
        symmetric.mixKey(shared)
        wipe(&shared)
    }

    private mutating func mixPSK() throws(NoiseError) {
        guard pskIndex < psks.count else { throw .missingKey("psk") }
        var psk = psks[pskIndex].unsafeArray
        pskIndex += 1
        symmetric.mixKeyAndHash(psk)
        wipe(&psk)
    }

    private mutating func advance() {
        messageIndex += 1
        guard messageIndex == pattern.messages.count else { return }
        let (c1, c2) = symmetric.split()
        let oneWay = pattern.isOneWay
        transport = switch role {
        case .initiator: NoiseTransport(send: c1, receive: oneWay ? nil : c2,
                                        handshakeHash: symmetric.handshakeHash, remoteStatic: remoteStatic)
        case .responder: NoiseTransport(send: oneWay ? nil : c2, receive: c1,
                                        handshakeHash: symmetric.handshakeHash, remoteStatic: remoteStatic)
        }
        e = nil  // the ephemeral private key is no longer needed; its SecretBytes wipes itself
        symmetric.clearKeys()
    }
}

/// What a completed handshake yields: one CipherState per direction.
///
/// In a one-way pattern the responder has no `send` and the initiator no `receive`.
public struct NoiseTransport: Sendable {
    public var send: CipherState?
    public var receive: CipherState?
    public let handshakeHash: [UInt8]
    /// The peer's static key, whether known beforehand or learned in the handshake.
    public let remoteStatic: PublicKey?
}
