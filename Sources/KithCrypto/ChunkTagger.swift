import CKithAEAD
import CSodium

/// Poly1305 tags of file chunks (spec §File transfer, Chunk proofs): each chunk gets its own
/// one-time key, BLAKE2b-256 keyed with the transfer's chunk key over the file's and the chunk's
/// numbers. A chunk costs a small part of what BLAKE2b costs (libcrypto's Poly1305 runs at about
/// 7 GB/s on one core here, libsodium's at 4, BLAKE2b at 1), and that pass, done on both sides,
/// was most of a push's CPU beside the stream's cipher. Sound because the chunk key is a secret
/// of the two devices (it travels only inside the encrypted stream) and a chunk key serves one
/// chunk position. A class because both libraries keep the state at a fixed address.
public final class ChunkTagger {
    public static let length = 16
    public static let keyLength = 32
    private let key: [UInt8]
    /// libcrypto's state while a chunk is tagged through it; else libsodium's `state` is in use.
    private var libcrypto: UnsafeMutableRawPointer?
    private let state: UnsafeMutablePointer<crypto_onetimeauth_state>

    /// `key`: the offer's 32-byte chunk key.
    public init(key: [UInt8]) {
        precondition(key.count == Self.keyLength, "a chunk key is 32 bytes")
        _ = Sodium.ready
        self.key = key
        state = UnsafeMutableRawPointer.allocate(byteCount: crypto_onetimeauth_statebytes(), alignment: 64)
            .bindMemory(to: crypto_onetimeauth_state.self, capacity: 1)
        start(file: 0, chunk: 0)
    }

    deinit {
        if let libcrypto { kith_poly1305_discard(libcrypto) }
        sodium_memzero(state, crypto_onetimeauth_statebytes())
        state.deallocate()
    }

    /// The one-time key of chunk `chunk` of file `file`: BLAKE2b-256, keyed with the chunk key,
    /// of the two numbers as 4-byte big-endian integers.
    public static func chunkKey(_ key: [UInt8], file: UInt32, chunk: UInt32) -> [UInt8] {
        var message = [UInt8]()
        message.reserveCapacity(8)
        for value in [file, chunk] { withUnsafeBytes(of: value.bigEndian) { message.append(contentsOf: $0) } }
        var out = [UInt8](repeating: 0, count: 32)
        _ = Sodium.ready
        crypto_generichash(&out, 32, message, UInt64(message.count), key, key.count)
        return out
    }

    /// Starts the tag of one chunk; what was fed before is forgotten.
    public func start(file: UInt32, chunk: UInt32) {
        var oneTime = Self.chunkKey(key, file: file, chunk: chunk)
        if let libcrypto { kith_poly1305_discard(libcrypto) }
        libcrypto = kith_poly1305_start(oneTime)
        if libcrypto == nil { crypto_onetimeauth_init(state, oneTime) }
        sodium_memzero(&oneTime, oneTime.count)
    }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        let pointer = base.assumingMemoryBound(to: UInt8.self)
        if let libcrypto {
            _ = kith_poly1305_update(libcrypto, pointer, bytes.count)  // a failure shows as a wrong tag
        } else {
            crypto_onetimeauth_update(state, pointer, UInt64(bytes.count))
        }
    }

    /// The chunk's tag. Call `start` before the next chunk.
    public func finish() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Self.length)
        if let libcrypto {
            _ = kith_poly1305_finish(libcrypto, &out)  // a failure shows as a wrong tag
            self.libcrypto = nil
        } else {
            crypto_onetimeauth_final(state, &out)
        }
        return out
    }
}
