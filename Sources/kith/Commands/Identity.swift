import ArgumentParser
import KithCrypto
import KithStore

struct IdentityResult: Codable {
    let fingerprint: String
    let ed25519: String
    let x25519: String
    let created: Bool
}

extension Kith {
    /// Shows this device's identity, making it on first use.
    struct Identity: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "identity",
            abstract: "Show this device's identity key and fingerprint (made on first use).",
            discussion: """
                The identity is an Ed25519 key kept in the profile's identity.seed (mode 0600). Its \
                fingerprint is what you compare by eye when two devices meet: 20 symbols in four \
                groups, the last one a check symbol (Protocol/identity.md).
                """
        )

        @OptionGroup var options: ClientOptions

        @Flag(help: "Print only the fingerprint (--json prints the whole identity).")
        var short = false

        func run() throws {
            let paths = options.paths
            let (identity, created) = try IdentityFile.loadOrCreate(in: paths.directory)
            if short && !options.json {
                Console.line("\(identity.publicKey.fingerprint)")
                return
            }
            let shown = IdentityResult(fingerprint: identity.publicKey.fingerprint.description,
                                       ed25519: identity.publicKey.rawValue.hexString,
                                       x25519: identity.noiseKeyPair.publicKey.rawValue.hexString, created: created)
            options.output(shown) {
                if created { Console.line("created a new identity in \(paths.directory.path)") }
                Console.line("fingerprint: \(shown.fingerprint)")
                Console.line("ed25519:     \(shown.ed25519)")
                Console.line("x25519:      \(shown.x25519)")
            }
        }
    }
}
