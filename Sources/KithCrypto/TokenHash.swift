import CSodium

/// BLAKE2b-256 of a session token: what a server stores instead of the token (spec §Sessions).
public enum TokenHash {
    public static func of(_ token: [UInt8]) -> [UInt8] {
        _ = Sodium.ready
        var out = [UInt8](repeating: 0, count: 32)
        crypto_generichash(&out, 32, token, UInt64(token.count), nil, 0)
        return out
    }
}

/// BLAKE2b with a key (libsodium `crypto_generichash`), for tags that only holders of the key
/// can compute: the LAN account tag (spec §LAN discovery).
public enum KeyedHash {
    /// `length` bytes (16…64) of BLAKE2b(`message`) keyed with `key` (at most 64 bytes).
    public static func of(_ message: [UInt8], key: [UInt8], length: Int = 32) -> [UInt8] {
        precondition((16...64).contains(length) && key.count <= 64, "BLAKE2b: output 16…64 bytes, key at most 64")
        _ = Sodium.ready
        var out = [UInt8](repeating: 0, count: length)
        crypto_generichash(&out, length, message, UInt64(message.count), key, key.count)
        return out
    }
}
