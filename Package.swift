// swift-tools-version:6.0
import PackageDescription

// Layers point one way (see README "Layout"):
//   kith (CLI)  →  KithNet (NIO shell)  →  KithCore  →  KithWire, KithCrypto  →  CSodium, CKithAEAD, CDNSSD
//   kith, the benches, the agent  →  KithAPI (the local API's types and codec: Foundation only)
// KithWire and KithCore never import NIOPosix, GRDB or CDNSSD; LayeringTests checks it.
// Release builds serialize the bodies of the lower layers' functions for the modules above them
// (`-cross-module-optimization`), so the agent's and server's hot paths get the generic types of
// KithCore, KithWire and KithNet (the session table, the stream machines, field coding, the
// conduit's queue) specialized and inlined instead of looking up their metadata at run time for
// every datagram.
let inlinableAcrossModules: [SwiftSetting] = [.unsafeFlags(["-cross-module-optimization"], .when(configuration: .release))]

let package = Package(
    name: "Kith",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "kith", targets: ["kith"]),
        .library(name: "KithCrypto", targets: ["KithCrypto"]),
        .library(name: "KithWire", targets: ["KithWire"]),
        .library(name: "KithCore", targets: ["KithCore"]),
        .library(name: "KithNetLibrary", targets: ["KithNet"]),
        .library(name: "KithAPI", targets: ["KithAPI"]),
        .library(name: "KithWatch", targets: ["KithWatch"]),
        .library(name: "KithXMPP", targets: ["KithXMPP"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.0"),
    ],
    targets: [
        .systemLibrary(name: "CSodium", providers: [.apt(["libsodium-dev"])]),
        .systemLibrary(name: "CDNSSD", providers: [.apt(["libavahi-compat-libdnssd-dev"])]),
        .systemLibrary(name: "CExpat", providers: [.apt(["libexpat1-dev"])]),
        // Noise's AEADs through OpenSSL's libcrypto for large messages (KithCrypto's NoiseCipher).
        .target(name: "CKithAEAD", linkerSettings: [.linkedLibrary("crypto")]),
        .target(name: "KithCrypto", dependencies: ["CSodium", "CKithAEAD"]),
        // The XMPP subset an agent speaks to a foreign network: XML over expat, SCRAM, the
        // session's decisions as a machine. No sockets: the agent's NIO shell carries it.
        .target(name: "KithXMPP", dependencies: ["CExpat", .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "KithWire", swiftSettings: inlinableAcrossModules),
        .target(name: "KithCore", dependencies: ["KithCrypto", "KithWire"], swiftSettings: inlinableAcrossModules),
        // The agent's local API as types: one request type per method, results, errors, events,
        // the JSON-lines codec. No networking: the CLI, the benches and any GUI import it.
        .target(name: "KithAPI"),
        // The watcher's decisions and how it shows them (`kith watch`): pure, over KithAPI's types.
        .target(name: "KithWatch", dependencies: ["KithAPI", "KithCore"]),
        // Durable state: the server's and the agent's SQLite stores (GRDB). Coded bytes it keeps
        // (terminal type, contact state, clip mode, document kind) are KithWire's enums.
        .target(name: "KithStore", dependencies: ["KithCrypto", "KithWire", .product(name: "GRDB", package: "GRDB.swift")]),
        // The server's store on PostgreSQL, for several server instances on one database (postgres-nio).
        .target(
            name: "KithPostgres",
            dependencies: [
                "KithStore", "KithWire",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // The I/O shell shared by server and agent: SwiftNIO channels around KithCore's machines.
        .target(
            name: "KithNet",
            dependencies: [
                "KithCore", "KithCrypto", "KithWire",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: inlinableAcrossModules
        ),
        // `kith server`: accounts, login, device registry, presence, relay.
        .target(
            name: "KithServer",
            dependencies: [
                "KithCore", "KithCrypto", "KithNet", "KithPostgres", "KithStore", "KithWire",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // `kith agent`: the device's session, store, relay intake and outbox, and the local API.
        .target(
            name: "KithAgent",
            dependencies: [
                "CDNSSD", "KithAPI", "KithCore", "KithCrypto", "KithNet", "KithStore", "KithWatch", "KithWire", "KithXMPP",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                // STARTTLS to an XMPP server (BoringSSL inside; the system's trust roots).
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ]
        ),
        .executableTarget(
            name: "kith",
            dependencies: [
                "KithAPI", "KithAgent", "KithCore", "KithCrypto", "KithNet", "KithPostgres", "KithServer", "KithStore", "KithWatch",
                "KithWire",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .target(name: "KithTestSupport", path: "Tests/KithTestSupport"),
        .testTarget(name: "KithCryptoTests", dependencies: ["KithCrypto", "KithTestSupport"]),
        .testTarget(name: "KithWireTests", dependencies: ["KithWire", "KithTestSupport"]),
        .testTarget(name: "KithWatchTests", dependencies: ["KithWatch", "KithAPI"]),
        .testTarget(name: "KithXMPPTests", dependencies: ["KithXMPP"]),
        .testTarget(name: "KithCoreTests", dependencies: ["KithCore", "KithCrypto", "KithWire", "KithWatch", "KithTestSupport"]),
        .testTarget(
            name: "KithNetTests",
            dependencies: [
                "KithNet", "KithCore", "KithCrypto", "KithWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "KithStoreTests", dependencies: [
            "KithPostgres", "KithStore", "KithTestSupport", "KithWire", .product(name: "GRDB", package: "GRDB.swift"),
        ]),
        // The agent's and the server's decisions, driven without processes or sockets.
        .testTarget(name: "KithAgentTests", dependencies: [
            "KithAPI", "KithAgent", "KithCore", "KithCrypto", "KithStore", "KithWire", "KithTestSupport",
        ]),
        .testTarget(name: "KithServerTests", dependencies: [
            "KithServer", "KithCore", "KithCrypto", "KithStore", "KithWire", "KithTestSupport",
        ]),
        .testTarget(name: "LayeringTests", dependencies: ["CDNSSD"]),
        // Real `kith` processes on loopback; depending on the executable makes SwiftPM build it.
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "kith", "KithAPI", "KithAgent", "KithCore", "KithCrypto", "KithNet", "KithStore", "KithWire", "KithXMPP",
                "KithTestSupport",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
