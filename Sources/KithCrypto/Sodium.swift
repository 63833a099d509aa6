import CSodium

/// One place that guarantees `sodium_init()` ran before any libsodium call.
///
/// libsodium must be initialised once per process; every entry point in this module that calls
/// into it first touches `Sodium.ready`, which Swift evaluates exactly once and thread-safely.
enum Sodium {
    static let ready: Void = {
        guard sodium_init() >= 0 else { fatalError("libsodium failed to initialise") }
    }()

    /// `count` bytes from the operating system's CSPRNG.
    static func randomBytes(_ count: Int) -> [UInt8] {
        _ = ready
        guard count > 0 else { return [] }
        var out = [UInt8](repeating: 0, count: count)
        out.withUnsafeMutableBytes { randombytes_buf($0.baseAddress!, $0.count) }
        return out
    }
}

/// Overwrites an array's bytes with zeros in a way the optimiser will not remove.
public func wipe(_ bytes: inout [UInt8]) {
    bytes.withUnsafeMutableBytes { buffer in
        guard let base = buffer.baseAddress else { return }
        sodium_memzero(base, buffer.count)
    }
}

/// Random bytes for callers outside this module (session tokens, receiver indices).
public func secureRandomBytes(_ count: Int) -> [UInt8] { Sodium.randomBytes(count) }
