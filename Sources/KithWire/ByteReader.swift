/// A cursor over bytes that have fully arrived, reading Kith's big-endian integers.
///
/// Every read checks the remaining length first and throws `.truncated`, so a decoder built on
/// it cannot read out of bounds however the input is cut.
public struct ByteReader {
    private var bytes: ArraySlice<UInt8>
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

    public mutating func readInteger<T: FixedWidthInteger & UnsignedInteger>(_: T.Type = T.self) throws(WireError) -> T {
        let raw = try readBytes(MemoryLayout<T>.size)
        return raw.reduce(T(0)) { $0 << 8 | T($1) }
    }
}

extension Array where Element == UInt8 {
    /// Appends `value` big-endian.
    public mutating func appendInteger<T: FixedWidthInteger>(_ value: T) {
        for shift in stride(from: (MemoryLayout<T>.size - 1) * 8, through: 0, by: -8) {
            append(UInt8(truncatingIfNeeded: value >> shift))
        }
    }
}
