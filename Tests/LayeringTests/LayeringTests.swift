import Foundation
import Testing

/// The layer rule of the architecture, checked the way Tailscale's deps_test.go does: the wire,
/// crypto and core targets stay free of I/O frameworks, so their logic runs without sockets.
@Suite struct LayeringTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// What each pure target may import; anything else fails the test.
    static let allowed: [String: Set<String>] = [
        "KithWire": [],
        "KithCrypto": ["CSodium", "CKithAEAD"],
        "KithCore": ["KithWire", "KithCrypto"],
        // The watcher's decisions: over the local API's types, no I/O of their own.
        "KithWatch": ["KithAPI", "KithCore"],
    ]
    static let forbidden: Set<String> = ["NIOPosix", "GRDB", "CDNSSD", "Foundation", "Glibc", "NIOCore"]

    static func imports(of target: String) throws -> [(file: String, module: String)] {
        let dir = root.appendingPathComponent("Sources/\(target)")
        let files = FileManager.default.enumerator(at: dir, includingPropertiesForKeys: nil)!
            .compactMap { $0 as? URL }.filter { $0.pathExtension == "swift" }
        #expect(!files.isEmpty, "no sources found for \(target)")
        return try files.flatMap { file in
            try String(contentsOf: file, encoding: .utf8).split(separator: "\n").compactMap { line -> (String, String)? in
                let words = line.split(separator: " ").map(String.init)
                guard let i = words.firstIndex(of: "import"), i + 1 < words.count,
                      words[..<i].allSatisfy({ $0.hasPrefix("@") || ["public", "internal", "private"].contains($0) })
                else { return nil }
                return (file.lastPathComponent, words[i + 1])
            }
        }
    }

    /// The local API's types have no networking: the CLI, the benches and a GUI import them.
    @Test func theAPITargetImportsOnlyFoundation() throws {
        for (file, module) in try Self.imports(of: "KithAPI") {
            #expect(module == "Foundation", "KithAPI/\(file) imports \(module)")
        }
    }

    @Test(arguments: ["KithWire", "KithCrypto", "KithCore"])
    func pureTargetsImportOnlyTheLayersBelow(_ target: String) throws {
        for (file, module) in try Self.imports(of: target) {
            #expect(!Self.forbidden.contains(module), "\(target)/\(file) imports \(module)")
            #expect(Self.allowed[target]!.contains(module), "\(target)/\(file) imports \(module), not a layer below it")
        }
    }
}
