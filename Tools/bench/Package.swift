// swift-tools-version:6.0
import PackageDescription

// The server load benchmark (Tools/bench/run). A separate package, built in release mode, so
// the main build and `swift test` never pay for it.
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
    ],
    swiftLanguageModes: [.v6]
)
