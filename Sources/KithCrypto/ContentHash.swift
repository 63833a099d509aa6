import CSodium

/// Streaming BLAKE2b-256 (libsodium `crypto_generichash`) for file contents, which arrive in
/// pieces: a chunk's hash is built from the pieces that carry it, never from one big buffer.
/// A class because libsodium wants its state at a fixed, 64-byte aligned address.
public final class ContentHasher {
    public static let length = 32
    private let state: UnsafeMutableRawPointer

    public init() {
        _ = Sodium.ready
        state = UnsafeMutableRawPointer.allocate(byteCount: crypto_generichash_statebytes(), alignment: 64)
        reset()
    }

    deinit { state.deallocate() }

    /// Starts over, as a new hasher.
    public func reset() {
        crypto_generichash_init(OpaquePointer(state), nil, 0, Self.length)
    }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        crypto_generichash_update(OpaquePointer(state),
                                  base.assumingMemoryBound(to: UInt8.self), UInt64(bytes.count))
    }

    public func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

    /// The hash of everything since the last reset; the hasher starts over afterwards.
    public func finish() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Self.length)
        crypto_generichash_final(OpaquePointer(state), &out, Self.length)
        reset()
        return out
    }

    /// BLAKE2b-256 of `bytes` in one call.
    public static func hash(_ bytes: [UInt8]) -> [UInt8] {
        let hasher = ContentHasher()
        hasher.update(bytes)
        return hasher.finish()
    }
}
