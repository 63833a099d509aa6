// swift-tools-version:6.0
import PackageDescription

// The benchmarks, a separate package built in release mode so that the main build and `swift
// test` never pay for them: the server load benchmark (KithBench, Tools/bench/run) and the
// read-state benchmark (ReadStateBench, Tools/bench/readstate).
let package = Package(
    name: "KithBench",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "Kith", path: "../.."),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
    ],
    targets: [
        .executableTarget(
            name: "KithBench",
            dependencies: [
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
        .executableTarget(
            name: "ReadStateBench",
            dependencies: [.product(name: "KithAPI", package: "Kith")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
