/// Why bytes from the network were refused. One type for every Kith decoder, in the style of
/// `NIOSSHError`: a small closed set of kinds that callers switch on (and that test vectors
/// name), plus a detail string for logs. The input is dropped and the process carries on: a
/// bad datagram is ignored, a bad TCP stream closes that one connection (spec §Decoder errors).
public struct WireError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable, Equatable {
        /// Fewer bytes than the structure needs (a complete unit was handed over, not a stream).
        case truncated
        /// Longer than the limit for this unit (Protocol/spec.md §Limits).
        case oversized
        /// A packet or message type this version does not know.
        case unknownType
        /// A version number this implementation does not speak.
        case unsupportedVersion
        /// Structurally wrong: a bad magic, non-zero reserved bits, fields out of order,
        /// a missing required field, invalid UTF-8, a value of the wrong size.
        case malformed
        /// The AEAD tag did not verify, or the counter was replayed: forged, damaged or old.
        case authenticationFailed
    }

    public let kind: Kind
    public let detail: String

    public init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    public static func truncated(_ detail: String) -> WireError { .init(.truncated, detail) }
    public static func oversized(_ detail: String) -> WireError { .init(.oversized, detail) }
    public static func unknownType(_ detail: String) -> WireError { .init(.unknownType, detail) }
    public static func unsupportedVersion(_ detail: String) -> WireError { .init(.unsupportedVersion, detail) }
    public static func malformed(_ detail: String) -> WireError { .init(.malformed, detail) }
    public static func authenticationFailed(_ detail: String) -> WireError { .init(.authenticationFailed, detail) }

    public var description: String { "\(kind.rawValue): \(detail)" }
}
