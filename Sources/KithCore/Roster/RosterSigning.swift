import KithCrypto
import KithWire

/// The domain string each kind of signed document's signature starts with, so a signature over a
/// roster can never be read as one over a policy (Protocol/roster.md §Signing). The kinds are the
/// schema's (`DocumentKind`, generated).
extension DocumentKind {
    /// `"kith roster v0"` or `"kith policy v0"`, then one zero byte: 15 bytes; nil for a kind this
    /// version does not define (its documents never verify).
    public var domain: [UInt8]? {
        switch self {
        case .roster: Array("kith roster v0".utf8) + [0]
        case .policy: Array("kith policy v0".utf8) + [0]
        case .unknown: nil
        }
    }
}

/// Encoding, signing and verifying rosters and policies. A signature covers the exact bytes of
/// the body as sent, so a receiver verifies what it got and never re-encodes: fields it does
/// not know are signed too, and skipped when it decodes.
public enum RosterSigning {
    /// `SignedDocument.signer` for a document signed with the account's recovery key. Device
    /// ids always contain a `-`, so no device can be called this.
    public static let recoverySigner = "recovery"

    /// The body of a document: the message's field list, as a message body is encoded.
    public static func body(of message: some FieldMessage) throws(WireError) -> [UInt8] {
        var writer = FieldWriter()
        try message.encodeFields(into: &writer)
        return writer.bytes
    }

    /// What Ed25519 signs: the kind's domain string, then the body; nil for an unknown kind.
    public static func signedBytes(kind: DocumentKind, body: some Collection<UInt8>) -> [UInt8]? {
        kind.domain.map { $0 + Array(body) }
    }

    /// Signs a roster. `signer` is the signing device's id, or `recoverySigner` when `key` is the
    /// recovery key.
    public static func sign(_ roster: Roster, signer: String, with key: some DocumentSigner) throws(WireError) -> SignedDocument {
        try sign(kind: .roster, body: body(of: roster), signer: signer, with: key)
    }

    /// Signs a policy; `signer` is the primary's device id.
    public static func sign(_ policy: DevicePolicy, signer: String, with key: some DocumentSigner) throws(WireError) -> SignedDocument {
        try sign(kind: .policy, body: body(of: policy), signer: signer, with: key)
    }

    public static func sign(kind: DocumentKind, body: [UInt8], signer: String, with key: some DocumentSigner) throws(WireError) -> SignedDocument {
        guard let signed = signedBytes(kind: kind, body: body) else { throw .malformed("kind: \(kind) is not defined") }
        let document = SignedDocument(kind: kind, body: body, signer: signer, signature: key.sign(signed))
        try document.validate()
        return document
    }

    /// Whether `document`'s signature verifies with `key` over its kind's domain and its body.
    /// An unknown kind never verifies.
    public static func signatureIsValid(_ document: SignedDocument, key: SigningPublicKey) -> Bool {
        guard let signed = signedBytes(kind: document.kind, body: document.body) else { return false }
        return key.isValidSignature(document.signature, for: signed)
    }

    /// The body as a Roster (the kind is not checked here).
    public static func roster(in document: SignedDocument) throws(WireError) -> Roster {
        try Roster(fields: FieldReader(document.body[...]))
    }

    /// The body as a DevicePolicy (the kind is not checked here).
    public static func policy(in document: SignedDocument) throws(WireError) -> DevicePolicy {
        try DevicePolicy(fields: FieldReader(document.body[...]))
    }

    /// A document as the agent stores it and as a nested field carries it: its field list.
    public static func encode(_ document: SignedDocument) throws(WireError) -> [UInt8] {
        try body(of: document)
    }

    /// A stored document back. The limits of the schema apply; the signature is not checked.
    public static func decodeDocument(_ bytes: some Collection<UInt8>) throws(WireError) -> SignedDocument {
        try SignedDocument(fields: FieldReader(Array(bytes)[...]))
    }
}
