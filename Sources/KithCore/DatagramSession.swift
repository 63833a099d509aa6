import KithCrypto
import KithWire

/// One device-to-device session over UDP after its handshake: seals outgoing transport data
/// and opens incoming, with the counter as the explicit AEAD nonce and a replay window
/// (spec §UDP packets, §Replay window).
///
/// The associated data of every transport packet is its 16-byte header, so the indices and
/// the counter cannot be altered without failing authentication.
public struct DatagramSession: Sendable {
    public let localIndex: UInt32
    public let remoteIndex: UInt32
    private let sendCipher: CipherState
    private let receiveCipher: CipherState
    private var sendCounter: UInt64 = 0
    private var window = ReplayWindow()

    /// Counter at which the sender must start a new handshake (spec §Rekeying); a session never
    /// reaches Noise's reserved nonce.
    public static let rekeyAfterMessages: UInt64 = 1 << 60

    public init(transport: NoiseTransport, localIndex: UInt32, remoteIndex: UInt32) {
        precondition(transport.send != nil && transport.receive != nil, "datagram sessions use two-way patterns")
        self.localIndex = localIndex
        self.remoteIndex = remoteIndex
        sendCipher = transport.send!
        receiveCipher = transport.receive!
    }

    public var needsRekey: Bool { sendCounter >= Self.rekeyAfterMessages }

    /// The whole datagram for `plaintext`.
    public mutating func seal(_ plaintext: [UInt8]) throws(WireError) -> [UInt8] {
        guard !needsRekey else { throw .oversized("session: counter exhausted, rekey first") }
        // The packet is the header (also the AEAD's data) and the ciphertext, sealed in place
        // behind it (spec §UDP packets, Transport data): one array per datagram, not three.
        let header = Self.header(receiverIndex: remoteIndex, counter: sendCounter)
        guard header.count + plaintext.count + NoiseCipher.tagLength <= WireLimits.maxDatagram else {
            throw .oversized("datagram: \(header.count + plaintext.count + NoiseCipher.tagLength) bytes, limit \(WireLimits.maxDatagram)")
        }
        var packet: [UInt8]
        do {
            packet = try sendCipher.encrypt(nonce: sendCounter, ad: header, plaintext: plaintext, prefix: header.count)
        } catch {
            throw .oversized("session: \(error)")
        }
        packet.replaceSubrange(0..<header.count, with: header)
        sendCounter += 1
        return packet
    }

    /// The plaintext of a transport packet addressed to this session, or a typed error:
    /// `.malformed` for another session's index, `.authenticationFailed` for a replay or a
    /// packet that does not verify.
    public mutating func open(receiverIndex: UInt32, counter: UInt64, ciphertext: [UInt8]) throws(WireError) -> [UInt8] {
        guard receiverIndex == localIndex else { throw .malformed("session: receiver index \(receiverIndex)") }
        guard window.wouldAccept(counter) else { throw .authenticationFailed("session: counter \(counter) replayed or too old") }
        let plaintext: [UInt8]
        do {
            plaintext = try receiveCipher.decrypt(nonce: counter, ad: Self.header(receiverIndex: receiverIndex, counter: counter),
                                                  ciphertext: ciphertext)
        } catch {
            throw .authenticationFailed("session: packet \(counter) did not verify")
        }
        window.accept(counter)
        return plaintext
    }

    static func header(receiverIndex: UInt32, counter: UInt64) -> [UInt8] {
        var out: [UInt8] = [Datagram.PacketType.transportData.rawValue, UInt8(WireLimits.protocolVersion), 0, 0]
        out.appendInteger(receiverIndex)
        out.appendInteger(counter)
        return out
    }
}
