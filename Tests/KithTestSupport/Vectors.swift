import Foundation

/// Where the repository is, found from this file's path, so tests run from any directory.
public enum Repository {
    public static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public static func url(_ relative: String) -> URL { root.appendingPathComponent(relative) }
}

/// A Protocol/vectors file: Wycheproof-style entries with `tcId`, `comment` and `result`.
public struct VectorFile<Vector: Decodable>: Decodable {
    public let description: String
    public let vectors: [Vector]

    public static func load(_ name: String) throws -> [Vector] {
        let data = try Data(contentsOf: Repository.url("Protocol/vectors/\(name)"))
        return try JSONDecoder().decode(VectorFile.self, from: data).vectors
    }
}

extension Array where Element == UInt8 {
    /// Hex from a vector file; a malformed vector file is a test bug, so this traps.
    public init(vectorHex hex: String) {
        var out = [UInt8]()
        var chars = Array(hex.utf8)[...]
        while chars.count >= 2 {
            out.append(UInt8(String(decoding: chars.prefix(2), as: UTF8.self), radix: 16)!)
            chars = chars.dropFirst(2)
        }
        precondition(chars.isEmpty, "odd-length hex in a vector file")
        self = out
    }
}

/// The ways a stream decoder must cope with bytes arriving: all at once, one byte at a time,
/// and in random chunks (seeded, so a failure reproduces) — the checks of NIO's
/// `ByteToMessageDecoderVerifier`, without NIO.
public func deliveries(of bytes: [UInt8], seed: UInt64 = 0x4b495448) -> [(name: String, chunks: [[UInt8]])] {
    var random = SplitMix64(seed: seed)
    var chunks: [[UInt8]] = []
    var rest = bytes[...]
    while !rest.isEmpty {
        let n = Int(random.next() % 7) + 1
        chunks.append(Array(rest.prefix(n)))
        rest = rest.dropFirst(n)
    }
    return [("whole", [bytes]), ("dripped", bytes.map { [$0] }), ("random chunks", chunks)]
}

/// A tiny deterministic generator for tests.
public struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9e3779b97f4a7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58476d1ce4e5b9
        z = (z ^ (z >> 27)) &* 0x94d049bb133111eb
        return z ^ (z >> 31)
    }
}
