import KithCrypto
import KithWire

/// One Kith TCP connection, end to end: preamble, Noise handshake, then framed, encrypted
/// envelopes (spec §TCP channel). A pure state machine: the socket's bytes go in, actions come
/// out, and the I/O shell only writes, delivers and closes as told. Any failure closes the
/// channel with a typed error and every later event is ignored.
public struct SecureChannel {
    public enum Action: Equatable {
        /// Bytes to write to the socket, in order.
        case write([UInt8])
        /// The handshake finished: the peer's `remoteStatic` key verified. The shell decides
        /// whether that key is welcome (the server checks it against the device registry). For
        /// an IK responder this follows message 1 alone, which an eavesdropper can replay; a
        /// replayer cannot produce transport frames, so anything that matters waits for the
        /// first envelope.
        case established(remoteStatic: PublicKey, handshakeHash: [UInt8])
        /// An envelope arrived from the authenticated peer.
        case deliver(Envelope)
        /// Close the connection; nothing more will be read or written.
        case close(WireError)
    }

    public enum Role: Sendable {
        /// Dials out, knowing (for `Noise_IK` channels) the responder's static key.
        case initiator(channel: Preamble.Channel, remoteStatic: PublicKey?)
        /// Accepts connections for the listed channel kinds.
        case responder(accepting: Set<Preamble.Channel>)
    }

    private enum State {
        case idle
        /// Responder: waiting for the initiator's preamble.
        case awaitingPreamble([UInt8])
        /// Initiator: first message sent, waiting for the responder's preamble.
        case awaitingResponderPreamble(NoiseHandshake, [UInt8])
        case handshaking(NoiseHandshake, FrameDecoder)
        case open(send: CipherState, receive: CipherState, FrameDecoder)
        case closed
    }

    private let role: Role
    private let localStatic: KeyPair
    private let ciphers: [NoiseCipher]
    private let aesGCMMessageLimit: UInt64
    private let ephemeralSource: () -> KeyPair
    private var state: State = .idle
    /// Set only on a device-to-device channel, whose handshake agrees on the transport cipher
    /// (spec §Handshakes, Transport cipher): an initiator's offer as sent; empty on a responder.
    private var cipherOffer: [UInt8]?
    private var agreedCipher: NoiseCipher = .chaChaPoly

    /// The most transport messages a direction carries under AES-256-GCM (spec §Rekeying, TCP):
    /// 2^22 messages of at most 64 KiB are 2^38 bytes under one key, the volume TLS allows an
    /// AES-GCM key (RFC 8446 §5.5). ChaCha20-Poly1305 has no such bound.
    public static let aesGCMMessageLimit: UInt64 = 1 << 22

    /// `ciphers`: the transport ciphers this end uses on a device-to-device channel, preferred
    /// first (`TransportCipherChoice.local()`); AES-256-GCM is dropped where this CPU lacks AES
    /// instructions. Other kinds always use ChaCha20-Poly1305. `aesGCMMessageLimit`: for tests.
    public init(role: Role, localStatic: KeyPair, ciphers: [NoiseCipher] = [.chaChaPoly],
                aesGCMMessageLimit: UInt64 = SecureChannel.aesGCMMessageLimit,
                ephemeralSource: @escaping () -> KeyPair = KeyPair.generate) {
        self.role = role
        self.localStatic = localStatic
        self.ciphers = ciphers.filter { $0 != .aesGCM || NoiseCipher.aesGCMInHardware }
        self.aesGCMMessageLimit = aesGCMMessageLimit
        self.ephemeralSource = ephemeralSource
    }

    /// The AEAD of the transport messages: what the open channel's cipher states use (before
    /// that, what the handshake agreed on so far).
    public var transportCipher: NoiseCipher {
        if case .open(let send, _, _) = state { send.cipher } else { agreedCipher }
    }

    /// The Noise protocol each channel kind uses (spec §Handshakes).
    public static func protocolName(for channel: Preamble.Channel) -> NoiseProtocolName {
        switch channel {
        case .agentToServer, .deviceToDevice: try! NoiseProtocolName("Noise_IK_25519_ChaChaPoly_BLAKE2b")
        case .pairing: try! NoiseProtocolName("Noise_XX_25519_ChaChaPoly_BLAKE2b")
        // A transit connection has no handshake of its own; the device stream inside it is IK.
        case .transit: try! NoiseProtocolName("Noise_IK_25519_ChaChaPoly_BLAKE2b")
        }
    }

    public var isOpen: Bool { if case .open = state { true } else { false } }
    public var isClosed: Bool { if case .closed = state { true } else { false } }

    /// The connection is up: an initiator writes its preamble and first handshake message.
    public mutating func start() -> [Action] {
        guard case .idle = state else { preconditionFailure("SecureChannel.start called twice") }
        switch role {
        case .responder:
            state = .awaitingPreamble([])
            return []
        case let .initiator(channel, remoteStatic):
            let preamble = Preamble(channel: channel)
            do throws(WireError) {
                var handshake = try makeHandshake(channel: channel, role: .initiator, prologue: preamble.bytes,
                                                  remoteStatic: remoteStatic)
                let offer = channel == .deviceToDevice ? TransportCipherChoice.offer(ciphers) : []
                if channel == .deviceToDevice { cipherOffer = offer }
                let first = try FrameDecoder.encode(try noise { () throws(NoiseError) in try handshake.writeMessage(payload: offer) })
                state = .awaitingResponderPreamble(handshake, [])
                return [.write(preamble.bytes + first)]
            } catch {
                return fail(error)
            }
        }
    }

    /// Bytes arrived from the socket.
    public mutating func receive(_ bytes: [UInt8]) -> [Action] {
        bytes.withUnsafeBytes { receive($0) }
    }

    /// Bytes arrived from the socket, read in place (the shell passes its buffer's memory; they
    /// are copied once, into the frame decoder).
    public mutating func receive(_ bytes: UnsafeRawBufferPointer) -> [Action] {
        switch state {
        case .idle: preconditionFailure("SecureChannel.receive before start")
        case .closed: return []
        // Each case takes its buffers out of `state` before appending, so they are not copied.
        case .awaitingPreamble(var buffered):
            state = .closed
            buffered.append(contentsOf: bytes.assumingMemoryBound(to: UInt8.self))
            return receivePreamble(buffered)
        case .awaitingResponderPreamble(let handshake, var buffered):
            state = .closed
            buffered.append(contentsOf: bytes.assumingMemoryBound(to: UInt8.self))
            return receiveResponderPreamble(handshake, buffered)
        case .handshaking(let handshake, var decoder):
            state = .closed
            decoder.append(bytes.assumingMemoryBound(to: UInt8.self))
            return continueHandshake(handshake, &decoder)
        case .open(let send, let receive, var decoder):
            state = .closed
            decoder.append(bytes.assumingMemoryBound(to: UInt8.self))
            return deliverFrames(send: send, receive: receive, &decoder)
        }
    }

    /// Encrypts and frames an envelope for the peer.
    public mutating func send(_ envelope: Envelope) throws(WireError) -> [Action] {
        guard case .open(var send, let receive, let decoder) = state else {
            throw .malformed("channel: not open")
        }
        let plaintext = try envelope.encode()
        guard plaintext.count + WireLimits.aeadTag <= WireLimits.maxNoiseMessage else {
            throw .oversized("frame: body of \(plaintext.count + WireLimits.aeadTag) bytes")
        }
        if send.cipher == .aesGCM && send.nonce >= aesGCMMessageLimit { return fail(aesGCMLimitReached) }
        var frame: [UInt8]
        do {
            // Sealed behind room for the frame's length: one buffer, no copy (spec §TCP framing).
            frame = try send.encrypt(plaintext: plaintext, prefix: 2)
        } catch {
            return fail(Self.wireError(error))
        }
        let length = frame.count - 2
        frame[0] = UInt8(length >> 8)
        frame[1] = UInt8(length & 0xFF)
        state = .open(send: send, receive: receive, decoder)
        return [.write(frame)]
    }

    // MARK: - Transitions

    private mutating func receivePreamble(_ buffered: [UInt8]) -> [Action] {
        guard case .responder(let accepted) = role else { preconditionFailure("only responders await a preamble") }
        let preamble: Preamble
        do throws(WireError) {
            guard let decoded = try Preamble.decode(buffered[...]) else {
                state = .awaitingPreamble(buffered)
                return []
            }
            preamble = decoded
        } catch {
            guard error.kind == .unsupportedVersion else { return fail(error) }
            // Tell the peer what we speak before closing (spec §Preamble).
            let ours = Preamble(channel: Preamble.Channel(rawValue: buffered[6]) ?? .agentToServer)
            return [.write(ours.bytes)] + fail(error)
        }
        guard accepted.contains(preamble.channel) else {
            return fail(.unknownType("channel: kind \(preamble.channel) not accepted here"))
        }
        if preamble.channel == .deviceToDevice { cipherOffer = [] }
        do throws(WireError) {
            let handshake = try makeHandshake(channel: preamble.channel, role: .responder,
                                              prologue: preamble.bytes, remoteStatic: nil)
            var decoder = FrameDecoder()
            decoder.append(buffered.dropFirst(Preamble.length))
            // Our preamble first, so the initiator learns our version before any frame (spec §Preamble),
            // in the same write as our first handshake message.
            var actions = continueHandshake(handshake, &decoder)
            if case .write(let first) = actions.first {
                actions[0] = .write(preamble.bytes + first)
            } else {
                actions.insert(.write(preamble.bytes), at: 0)
            }
            return actions
        } catch {
            return fail(error)
        }
    }

    private mutating func receiveResponderPreamble(_ handshake: NoiseHandshake, _ buffered: [UInt8]) -> [Action] {
        guard case .initiator(let channel, _) = role else { preconditionFailure("only initiators await a responder preamble") }
        do throws(WireError) {
            guard let preamble = try Preamble.decode(buffered[...]) else {
                state = .awaitingResponderPreamble(handshake, buffered)
                return []
            }
            guard preamble.channel == channel else {
                return fail(.malformed("channel: responder answered for channel \(preamble.channel)"))
            }
        } catch {
            return fail(error)
        }
        var decoder = FrameDecoder()
        decoder.append(buffered.dropFirst(Preamble.length))
        return continueHandshake(handshake, &decoder)
    }

    /// The decoder is `inout`, here and in `deliverFrames`: a copy taken as a parameter would share
    /// its buffer with the caller's, and the first frame read would then copy the whole buffer
    /// (that copy, and the fresh pages it faulted in, were 14% of a receiving agent's time).
    private mutating func continueHandshake(_ handshake: NoiseHandshake, _ decoder: inout FrameDecoder) -> [Action] {
        var handshake = handshake, actions: [Action] = []
        do throws(WireError) {
            while !handshake.isComplete, let frame = try decoder.nextFrame() {
                let payload = try noise { () throws(NoiseError) in try handshake.readMessage(frame) }
                var answer: [UInt8] = []
                // Only a device-to-device channel agrees on its cipher; other kinds' payloads are
                // authenticated and dropped (spec §Handshakes).
                if let offer = cipherOffer {
                    switch handshake.role {
                    case .responder:
                        (agreedCipher, answer) = try TransportCipherChoice.choose(offer: payload, ours: ciphers)
                    case .initiator:
                        agreedCipher = try TransportCipherChoice.accept(answer: payload, offer: offer)
                    }
                }
                if handshake.isOurTurn {
                    let reply = try noise { () throws(NoiseError) in try handshake.writeMessage(payload: answer) }
                    actions.append(.write(try FrameDecoder.encode(reply)))
                }
            }
        } catch {
            return actions + fail(error)
        }
        guard let transport = handshake.transport else {
            state = .handshaking(handshake, decoder)
            return actions
        }
        guard let remoteStatic = transport.remoteStatic, var send = transport.send, var receive = transport.receive else {
            return actions + fail(.malformed("channel: handshake left no peer key"))
        }
        send = send.switched(to: agreedCipher)
        receive = receive.switched(to: agreedCipher)
        // A pinned key must match also where the pattern learns the key instead of using it (XX).
        if case .initiator(_, let pinned?) = role, pinned != remoteStatic {
            return actions + fail(.authenticationFailed("channel: the peer's key is not the pinned one"))
        }
        actions.append(.established(remoteStatic: remoteStatic, handshakeHash: transport.handshakeHash))
        // Frames that arrived right behind the last handshake message are transport messages.
        return actions + deliverFrames(send: send, receive: receive, &decoder)
    }

    private mutating func deliverFrames(send: CipherState, receive: CipherState, _ decoder: inout FrameDecoder) -> [Action] {
        var send = send, receive = receive, actions: [Action] = []
        do throws(WireError) {
            while let frame = try decoder.nextFrame() {
                if receive.cipher == .aesGCM && receive.nonce >= aesGCMMessageLimit { throw aesGCMLimitReached }
                let plaintext = try noise { () throws(NoiseError) in try receive.decrypt(ciphertext: frame) }
                do throws(WireError) {
                    actions.append(.deliver(try Envelope.decode(plaintext[...])))
                } catch {
                    // Tell the authenticated peer what was wrong with its message (spec §TCP channel):
                    // a newer peer's unknown message is answered and the channel carries on; any
                    // other bad envelope is answered and then the channel closes.
                    let requestID = (try? EnvelopeHeader.decode(plaintext[...]))?.requestID ?? 0
                    let code: ErrorCode = switch error.kind {
                    case .unknownType: .unknownMessage
                    case .unsupportedVersion: .unsupportedVersion
                    case .oversized: .tooLarge
                    case .truncated, .malformed, .authenticationFailed: .malformed
                    }
                    let text = error.kind == .unknownType
                        ? "unknown message type \((try? EnvelopeHeader.decode(plaintext[...]))?.type ?? 0)"
                        : String(error.detail.prefix(200))
                    let reply = try Envelope(requestID: requestID, .errorMessage(.init(code: code.rawValue, message: text))).encode()
                    let sealed = try noise { () throws(NoiseError) in try send.encrypt(plaintext: reply) }
                    actions.append(.write(try FrameDecoder.encode(sealed)))
                    guard error.kind == .unknownType else { throw error }
                }
            }
        } catch {
            return actions + fail(error)
        }
        state = .open(send: send, receive: receive, decoder)
        return actions
    }

    private var aesGCMLimitReached: WireError {
        .oversized("channel: \(aesGCMMessageLimit) messages under one AES-256-GCM key; open a new channel")
    }

    private mutating func fail(_ error: WireError) -> [Action] {
        state = .closed
        return [.close(error)]
    }

    private func makeHandshake(channel: Preamble.Channel, role: NoiseHandshake.Role, prologue: [UInt8],
                               remoteStatic: PublicKey?) throws(WireError) -> NoiseHandshake {
        let configuration = NoiseHandshake.Configuration(
            protocolName: Self.protocolName(for: channel), role: role, prologue: prologue,
            localStatic: localStatic, remoteStatic: remoteStatic, ephemeralSource: ephemeralSource)
        return try noise { () throws(NoiseError) in try NoiseHandshake(configuration) }
    }

    /// Runs a Noise step, reporting its failure as the wire sees it.
    private func noise<T>(_ body: () throws(NoiseError) -> T) throws(WireError) -> T {
        do { return try body() } catch { throw Self.wireError(error) }
    }

    /// How a Noise failure is reported on the wire side.
    static func wireError(_ error: NoiseError) -> WireError {
        switch error {
        case .decryptionFailed: .authenticationFailed("noise: message did not verify")
        case .truncatedMessage: .truncated("noise: message too short")
        case .messageTooLarge(let n): .oversized("noise: \(n) bytes")
        case .invalidPublicKey: .authenticationFailed("noise: low-order public key")
        case .nonceExhausted: .oversized("noise: nonce exhausted")
        case .unsupportedProtocol, .invalidModifier, .missingKey, .invalidKeyLength, .outOfTurn:
            .malformed("noise: \(error)")
        }
    }
}
