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
