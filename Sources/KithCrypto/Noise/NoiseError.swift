/// Why a Noise operation failed. Every failure that bytes from the network can cause is one
/// of these cases; none of them crashes the process.
public enum NoiseError: Error, Equatable, Sendable {
    /// The protocol name is not `Noise_<pattern>_<dh>_<cipher>_<hash>` with parts we support.
    case unsupportedProtocol(String)
    /// A pattern modifier other than `pskN`, or `pskN` past the last message.
    case invalidModifier(String)
    /// The pattern needs a key (`s`, `rs`, `re`, a PSK) that the configuration did not give.
    case missingKey(String)
    /// A key, PSK or pre-message key of the wrong length.
    case invalidKeyLength(String)
    /// X25519 produced all zeros: the peer sent a low-order point.
    case invalidPublicKey
    /// A handshake message shorter than its tokens require.
    case truncatedMessage
    /// A message longer than Noise's 65535-byte limit.
    case messageTooLarge(Int)
    /// AEAD authentication failed: wrong key, tampered bytes, or a replay of an old nonce.
    case decryptionFailed
    /// The nonce reached 2^64-1, which Noise reserves; the session must rekey or end.
    case nonceExhausted
    /// `writeMessage` when it is the peer's turn, or `readMessage` when it is ours, or either after completion.
    case outOfTurn
}
