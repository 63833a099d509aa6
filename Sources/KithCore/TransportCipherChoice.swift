import KithCrypto
import KithWire

/// Which AEAD a device-to-device channel's transport messages use (spec §Handshakes, Transport
/// cipher). AES-256-GCM is faster than ChaCha20-Poly1305 only where the CPU has AES instructions,
/// so each side offers or accepts it only there, and the two agree inside the authenticated Noise
/// handshake: the initiator's first payload lists what it offers, the responder's answer names
/// one. An older peer sends and ignores empty payloads, which mean ChaCha20-Poly1305.
public enum TransportCipherChoice {
    /// A cipher's number in the payloads.
    public static func wireID(_ cipher: NoiseCipher) -> UInt8 {
        switch cipher {
        case .chaChaPoly: 1
        case .aesGCM: 2
        }
    }

    static func cipher(wireID: UInt8) -> NoiseCipher? {
        switch wireID {
        case 1: .chaChaPoly
        case 2: .aesGCM
        default: nil
        }
    }

    /// The most numbers an offer may list; a longer one is refused (`oversized`).
    public static let maxOffer = 16

    /// The initiator's first payload: `ciphers` in its order of preference, ChaCha20-Poly1305
    /// always among them; empty when that is all it offers, exactly as an older initiator sends.
    public static func offer(_ ciphers: [NoiseCipher]) -> [UInt8] {
        var ids: [UInt8] = []
        for cipher in ciphers where !ids.contains(wireID(cipher)) { ids.append(wireID(cipher)) }
        if !ids.contains(wireID(.chaChaPoly)) { ids.append(wireID(.chaChaPoly)) }
        return ids == [wireID(.chaChaPoly)] ? [] : ids
    }

    /// The responder's choice and its answer, from the initiator's offer and the ciphers the
    /// responder will use: the first of the offer's it knows and uses. An empty offer gets
    /// ChaCha20-Poly1305 and an empty answer (an older initiator reads no answer).
    public static func choose(offer: [UInt8], ours: [NoiseCipher]) throws(WireError) -> (cipher: NoiseCipher, answer: [UInt8]) {
        guard !offer.isEmpty else { return (.chaChaPoly, []) }
        guard offer.count <= maxOffer else { throw .oversized("cipher offer: \(offer.count) numbers") }
        guard offer.contains(wireID(.chaChaPoly)) else { throw .malformed("cipher offer: no 1 (ChaCha20-Poly1305) in \(offer)") }
        let usable = Set(ours + [.chaChaPoly])
        for id in offer {
            if let cipher = cipher(wireID: id), usable.contains(cipher) { return (cipher, [id]) }
        }
        return (.chaChaPoly, [wireID(.chaChaPoly)])  // not reached: 1 is in the offer
    }

    /// The initiator's reading of the responder's answer to `offer`: empty (an older responder,
    /// or an empty offer) is ChaCha20-Poly1305; otherwise exactly one number it offered.
    public static func accept(answer: [UInt8], offer: [UInt8]) throws(WireError) -> NoiseCipher {
        guard !answer.isEmpty else { return .chaChaPoly }
        guard answer.count == 1 else { throw .malformed("cipher answer: \(answer.count) bytes, not 1") }
        guard offer.contains(answer[0]), let cipher = cipher(wireID: answer[0]) else {
            throw .malformed("cipher answer: \(answer[0]) was not offered")
        }
        return cipher
    }

    /// The ciphers this machine uses for device streams: AES-256-GCM first where the CPU runs it
    /// in hardware, unless `aesAllowed` is false (a test forcing a machine without it), then
    /// ChaCha20-Poly1305.
    public static func local(aesAllowed: Bool = true, aesInHardware: Bool = NoiseCipher.aesGCMInHardware) -> [NoiseCipher] {
        aesAllowed && aesInHardware ? [.aesGCM, .chaChaPoly] : [.chaChaPoly]
    }
}
