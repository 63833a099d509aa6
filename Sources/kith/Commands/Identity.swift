import ArgumentParser
import KithCrypto

extension Kith {
    /// Shows this device's identity, making it on first use.
    struct Identity: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show this device's identity key and fingerprint (made on first use).",
            discussion: """
                The identity is an Ed25519 key kept in PROFILE/identity.seed (mode 0600). Its \
                fingerprint is what you compare by eye when two devices meet: 20 symbols in four \
                groups, the last one a check symbol (Protocol/identity.md).
                """
        )

        @OptionGroup var options: ProfileOption

        @Flag(help: "Print only the fingerprint.")
        var short = false

        func run() throws {
            let (identity, created) = try options.resolved.identity()
            if short {
                Console.line("\(identity.publicKey.fingerprint)")
                return
            }
            if created { Console.line("created a new identity in \(options.resolved.identityFile.path)") }
            Console.line("fingerprint: \(identity.publicKey.fingerprint)")
            Console.line("ed25519:     \(identity.publicKey.rawValue.hexString)")
            Console.line("x25519:      \(identity.noiseKeyPair.publicKey.rawValue.hexString)")
        }
    }
}
