// swift-tools-version:6.0
import PackageDescription

// The benchmarks, a separate package built in release mode so that the main build and `swift
// test` never pay for them: the server load benchmark (KithBench, Tools/bench/run), the
// read-state benchmark (ReadStateBench, Tools/bench/readstate) and the watcher's (WatchBench, Tools/bench/watch).
let package = Package(
    name: "KithBench",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "Kith", path: "../.."),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
    ],
    targets: [
        // A real `kith server` child process and device sessions against it, for the benches below.
        .target(
            name: "BenchSupport",
            dependencies: [
                .product(name: "KithCore", package: "Kith"),
                .product(name: "KithCrypto", package: "Kith"),
                .product(name: "KithWire", package: "Kith"),
                .product(name: "KithNetLibrary", package: "Kith"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "KithBench",
            dependencies: [
                "BenchSupport",
                .product(name: "KithCore", package: "Kith"),
                .product(name: "KithCrypto", package: "Kith"),
                .product(name: "KithWire", package: "Kith"),
                .product(name: "KithNetLibrary", package: "Kith"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        // Drives a real server and real agents through their command line and local API
        // sockets only, so it needs nothing but Foundation and KithAPI (the local API's request,
        // result and event types and their JSON lines; itself Foundation only).
        // What a watcher pays per refresh against a client that fetches the whole contact list
        // (Tools/bench/watch).
        .executableTarget(
            name: "WatchBench",
            dependencies: [
                "BenchSupport",
                .product(name: "KithCore", package: "Kith"),
                .product(name: "KithCrypto", package: "Kith"),
                .product(name: "KithWire", package: "Kith"),
                .product(name: "KithNetLibrary", package: "Kith"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // Several server instances on one PostgreSQL against one on SQLite (Tools/bench/instances).
        .executableTarget(
            name: "InstancesBench",
            dependencies: [
                "BenchSupport",
                .product(name: "KithCore", package: "Kith"),
                .product(name: "KithCrypto", package: "Kith"),
                .product(name: "KithWire", package: "Kith"),
                .product(name: "KithNetLibrary", package: "Kith"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "ReadStateBench",
            dependencies: [.product(name: "KithAPI", package: "Kith")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
