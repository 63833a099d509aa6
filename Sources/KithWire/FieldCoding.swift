/// A value that can stand in one envelope field (spec §Field types).
public protocol FieldValue {
    func encodeFieldValue(into out: inout [UInt8]) throws(WireError)
    init(fieldValue: ArraySlice<UInt8>, depth: Int) throws(WireError)
}

/// A set of fields: the body of a message, or of a message nested in a field.
/// Generated types in Messages.generated.swift conform; the schema is in Protocol/schema.
public protocol FieldMessage: FieldValue, Equatable, Sendable {
    func encodeFields(into writer: inout FieldWriter) throws(WireError)
    init(fields: FieldReader) throws(WireError)
}

extension FieldMessage {
    public func encodeFieldValue(into out: inout [UInt8]) throws(WireError) {
        var writer = FieldWriter()
        try encodeFields(into: &writer)
        out += writer.bytes
    }

    public init(fieldValue: ArraySlice<UInt8>, depth: Int) throws(WireError) {
        guard depth < WireLimits.maxNesting else { throw .malformed("fields: nested deeper than \(WireLimits.maxNesting)") }
        try self.init(fields: FieldReader(fieldValue, depth: depth + 1))
    }
}

/// Writes fields as `tag (u16) | length (u16) | value`, in the order the generated code calls it,
/// which is ascending tag order.
public struct FieldWriter {
    public private(set) var bytes: [UInt8] = []
    private var lastTag: UInt16 = 0

    public init() {}

    public mutating func write(_ tag: UInt16, _ value: some FieldValue) throws(WireError) {
        precondition(tag > 0 && tag >= lastTag, "generated code writes fields in ascending tag order")
        lastTag = tag
        var encoded: [UInt8] = []
        try value.encodeFieldValue(into: &encoded)
        guard encoded.count <= Int(UInt16.max) else { throw .oversized("field \(tag): \(encoded.count) bytes") }
        bytes.appendInteger(tag)
        bytes.appendInteger(UInt16(encoded.count))
        bytes += encoded
    }

    public mutating func write(_ tag: UInt16, _ value: (some FieldValue)?) throws(WireError) {
        if let value { try write(tag, value) }
    }

    public mutating func writeRepeated(_ tag: UInt16, _ values: [some FieldValue]) throws(WireError) {
        for value in values { try write(tag, value) }
    }
}

/// Reads a field list, checking its structure up front: lengths in bounds, tags non-zero and
/// non-decreasing, at most `WireLimits.maxFields`. Tags the schema does not know are skipped,
/// which is how an old peer reads a newer peer's message (spec §Versioning).
public struct FieldReader {
    private let bytes: ArraySlice<UInt8>
    private let fields: [(tag: UInt16, value: Range<Int>)]
    let depth: Int

    public init(_ bytes: ArraySlice<UInt8>, depth: Int = 0) throws(WireError) {
        var reader = ByteReader(bytes, what: "field")
        var fields: [(tag: UInt16, value: Range<Int>)] = []
        var lastTag: UInt16 = 0
        while !reader.isAtEnd {
            guard fields.count < WireLimits.maxFields else { throw .oversized("fields: more than \(WireLimits.maxFields)") }
            let tag: UInt16 = try reader.readInteger()
            let length: UInt16 = try reader.readInteger()
            guard tag != 0 else { throw .malformed("fields: tag 0 is reserved") }
            guard tag >= lastTag else { throw .malformed("fields: tag \(tag) after \(lastTag)") }
            let value = try reader.readBytes(Int(length))
            fields.append((tag, value.startIndex..<value.endIndex))
            lastTag = tag
        }
        self.bytes = bytes
        self.fields = fields
        self.depth = depth
    }

    private func values(_ tag: UInt16) -> [ArraySlice<UInt8>] {
        fields.filter { $0.tag == tag }.map { bytes[$0.value] }
    }

    public func optional<T: FieldValue>(_ tag: UInt16, _ name: String, as _: T.Type = T.self) throws(WireError) -> T? {
        let found = values(tag)
        guard found.count <= 1 else { throw .malformed("field \(name) (\(tag)) appears \(found.count) times") }
        guard let value = found.first else { return nil }
        return try T(fieldValue: value, depth: depth)
    }

    public func required<T: FieldValue>(_ tag: UInt16, _ name: String, as _: T.Type = T.self) throws(WireError) -> T {
        guard let value: T = try optional(tag, name) else { throw .malformed("field \(name) (\(tag)) is missing") }
        return value
    }

    public func repeated<T: FieldValue>(_ tag: UInt16, _ name: String, max: Int, as _: T.Type = T.self) throws(WireError) -> [T] {
        let found = values(tag)
        guard found.count <= max else { throw .oversized("field \(name) (\(tag)): \(found.count) values, limit \(max)") }
        var out: [T] = []
        for value in found { out.append(try T(fieldValue: value, depth: depth)) }
        return out
    }
}

// MARK: - Field types (spec §Field types)

extension FixedWidthInteger where Self: UnsignedInteger {
    public func encodeFieldValue(into out: inout [UInt8]) throws(WireError) { out.appendInteger(self) }

    public init(fieldValue: ArraySlice<UInt8>, depth: Int) throws(WireError) {
        guard fieldValue.count == MemoryLayout<Self>.size else {
            throw .malformed("u\(MemoryLayout<Self>.size * 8) field of \(fieldValue.count) bytes")
        }
        var reader = ByteReader(fieldValue, what: "integer")
        self = try reader.readInteger()
    }
}

extension UInt8: FieldValue {}
extension UInt16: FieldValue {}
extension UInt32: FieldValue {}
extension UInt64: FieldValue {}

extension Bool: FieldValue {
    public func encodeFieldValue(into out: inout [UInt8]) throws(WireError) { out.append(self ? 1 : 0) }

    public init(fieldValue: ArraySlice<UInt8>, depth: Int) throws(WireError) {
        guard fieldValue.count == 1, fieldValue.first! <= 1 else { throw .malformed("bool field must be one byte, 0 or 1") }
        self = fieldValue.first! == 1
    }
}

extension String: FieldValue {
    public func encodeFieldValue(into out: inout [UInt8]) throws(WireError) { out += utf8 }

    /// Only valid UTF-8 is accepted; a string from the wire is never repaired.
    public init(fieldValue: ArraySlice<UInt8>, depth: Int) throws(WireError) {
        guard let string = String(validating: fieldValue, as: UTF8.self) else { throw .malformed("string field is not UTF-8") }
        self = string
    }
}

extension Array: FieldValue where Element == UInt8 {
    public func encodeFieldValue(into out: inout [UInt8]) throws(WireError) { out += self }

    public init(fieldValue: ArraySlice<UInt8>, depth: Int) throws(WireError) { self = Array(fieldValue) }
}
