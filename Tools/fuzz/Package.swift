// swift-tools-version:6.0
import PackageDescription

// libFuzzer targets for every Kith decoder that reads bytes from the network. Built with
// -sanitize=fuzzer,address by Tools/fuzz/run; see that script. A separate package so the
// fuzzer's own `main` never meets the kith executable.
let targets = ["FuzzFrame", "FuzzDatagram", "FuzzEnvelope", "FuzzHandshake", "FuzzChannel", "FuzzTransport", "FuzzText", "FuzzLANRecord", "FuzzSignedDocument", "FuzzTransfer", "FuzzStreamFrame", "FuzzWatchPage", "FuzzXMPP"]

let package = Package(
    name: "KithFuzz",
    dependencies: [.package(name: "Kith", path: "../..")],
    targets: [.target(name: "FuzzSupport")] + targets.map { name in
        .executableTarget(
            name: name,
            dependencies: [
                "FuzzSupport",
                .product(name: "KithWire", package: "Kith"),
                .product(name: "KithCrypto", package: "Kith"),
                .product(name: "KithCore", package: "Kith"),
                .product(name: "KithWatch", package: "Kith"),
                .product(name: "KithXMPP", package: "Kith"),
            ],
            path: "Sources/\(name)"
        )
    },
    swiftLanguageModes: [.v6]
)
