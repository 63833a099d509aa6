import CSodium

/// Key material that is zeroed when the last reference to it goes away.
///
/// Swift arrays may be copied or moved by the runtime at will, so secrets live in one
/// heap allocation we own and wipe with `sodium_memzero` in `deinit`. The bytes never change
/// after initialisation, which is what makes sharing the reference between copies safe.
public final class SecretBytes: @unchecked Sendable {
    private let storage: UnsafeMutableRawBufferPointer

    public var count: Int { storage.count }

    public init(_ bytes: some Collection<UInt8>) {
        storage = .allocate(byteCount: bytes.count, alignment: 16)
        storage.copyBytes(from: bytes)
    }

    /// Takes ownership of `bytes` and wipes the caller's copy.
    convenience init(consuming bytes: inout [UInt8]) {
        self.init(bytes)
        wipe(&bytes)
    }

    init(count: Int, fill: (UnsafeMutableRawBufferPointer) -> Void) {
        storage = .allocate(byteCount: count, alignment: 16)
        storage.initializeMemory(as: UInt8.self, repeating: 0)
        fill(storage)
    }

    deinit {
        if let base = storage.baseAddress { sodium_memzero(base, storage.count) }
        storage.deallocate()
    }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(storage))
    }

    /// A copy of the bytes as an array; the caller becomes responsible for wiping it.
    public var unsafeArray: [UInt8] { Array(storage) }

    /// Constant-time comparison.
    public func constantTimeEquals(_ other: SecretBytes) -> Bool {
        guard count == other.count else { return false }
        return withUnsafeBytes { a in
            other.withUnsafeBytes { b in sodium_memcmp(a.baseAddress, b.baseAddress, a.count) == 0 }
        }
    }
}
