/// A cursor over bytes that have fully arrived, reading Kith's big-endian integers.
///
/// Every read checks the remaining length first and throws `.truncated`, so a decoder built on
/// it cannot read out of bounds however the input is cut. The integer methods are inlinable so
/// that callers in other modules get them specialized: unspecialized, every byte went through
/// generic witness tables and runtime metadata lookups (a tenth of a UDP stream's CPU).
public struct ByteReader {
    @usableFromInline var bytes: ArraySlice<UInt8>
    private let what: String

    public init(_ bytes: ArraySlice<UInt8>, what: String) {
        self.bytes = bytes
        self.what = what
    }

    public var remaining: Int { bytes.count }
    public var isAtEnd: Bool { bytes.isEmpty }

    public mutating func readBytes(_ count: Int) throws(WireError) -> ArraySlice<UInt8> {
        guard count >= 0, bytes.count >= count else {
            throw .truncated("\(what): needs \(count) bytes, has \(bytes.count)")
        }
        defer { bytes = bytes.dropFirst(count) }
        return bytes.prefix(count)
    }

    public mutating func readRest() -> ArraySlice<UInt8> {
        defer { bytes = bytes.suffix(0) }
        return bytes
    }

    @inlinable
    public mutating func readInteger<T: FixedWidthInteger & UnsignedInteger>(_: T.Type = T.self) throws(WireError) -> T {
        let raw = try readBytes(MemoryLayout<T>.size)
        var value = T(0)
        for byte in raw { value = value << 8 | T(byte) }
        return value
    }
}

extension Array where Element == UInt8 {
    /// Appends `value` big-endian.
    @inlinable
    public mutating func appendInteger<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.bigEndian) { append(contentsOf: $0) }
    }
}
