/// Something that makes Ed25519 signatures: a device's identity or the account's recovery key.
/// The roster and policy code (KithCore/Roster) signs through this, so it never holds a secret
/// key as bare bytes.
public protocol DocumentSigner: Sendable {
    var publicKey: SigningPublicKey { get }
    /// A detached Ed25519 signature (64 bytes) over `message`.
    func sign(_ message: [UInt8]) -> [UInt8]
}

extension DeviceIdentity: DocumentSigner {}
