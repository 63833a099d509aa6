/// The plaintext inside every Noise transport message: a seven-byte header and the fields of
/// one message (spec §Envelope).
///
/// `version (u8) | type (u16) | requestID (u32) | fields…`. A request carries a non-zero
/// `requestID` that its answer (or `ErrorMessage`) repeats; unsolicited messages use 0.
public struct Envelope: Equatable, Sendable {
    public static let version: UInt8 = 0
    public static let headerLength = 7

    public var requestID: UInt32
    public var message: Message

    public init(requestID: UInt32 = 0, _ message: Message) {
        self.requestID = requestID
        self.message = message
    }

    public func encode() throws(WireError) -> [UInt8] {
        var out: [UInt8] = [Self.version]
        out.appendInteger(message.type.rawValue)
        out.appendInteger(requestID)
        var writer = FieldWriter()
        try message.encodeFields(into: &writer)
        out += writer.bytes
        guard out.count <= WireLimits.maxEnvelope else {
            throw .oversized("envelope: \(out.count) bytes, limit \(WireLimits.maxEnvelope)")
        }
        return out
    }

    public static func decode(_ bytes: ArraySlice<UInt8>) throws(WireError) -> Envelope {
        guard bytes.count <= WireLimits.maxEnvelope else {
            throw .oversized("envelope: \(bytes.count) bytes, limit \(WireLimits.maxEnvelope)")
        }
        let header = try EnvelopeHeader.decode(bytes)
        guard let type = MessageType(rawValue: header.type) else {
            throw .unknownType("envelope: message type \(header.type)")
        }
        let fields = try FieldReader(bytes.dropFirst(headerLength))
        return Envelope(requestID: header.requestID, try Message.decode(type, fields))
    }
}

/// The envelope's header alone, so a receiver can answer a message it cannot decode with an
/// `ErrorMessage` that names the right request.
public struct EnvelopeHeader: Equatable, Sendable {
    public var type: UInt16
    public var requestID: UInt32

    public static func decode(_ bytes: ArraySlice<UInt8>) throws(WireError) -> EnvelopeHeader {
        var reader = ByteReader(bytes, what: "envelope header")
        let version: UInt8 = try reader.readInteger()
        let type: UInt16 = try reader.readInteger()
        let requestID: UInt32 = try reader.readInteger()
        guard version == Envelope.version else { throw .unsupportedVersion("envelope: version \(version)") }
        return EnvelopeHeader(type: type, requestID: requestID)
    }
}
