import KithAPI
import ArgumentParser
import Foundation
import KithAgent

extension Kith.Contacts {
    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify",
            abstract: "Show the safety code of you and a contact, and mark the contact verified.",
            discussion: """
                The code is made from both accounts' keys: when your screen and theirs (`kith contacts \
                verify YOU` on their side) show the same forty digits, nobody — the server included — \
                put other keys between you. Compare it in person or on a call you trust, then confirm \
                (asked here when you run it in a terminal, or with --confirm). A hand-over of their \
                primary does not change it. If their keys ever change in a way their own devices did \
                not sign, messages to them stop and `kith contacts` says so.
                """)
        @OptionGroup var options: ClientOptions
        @Argument(help: "The contact's account.") var account: String
        @Flag(help: "The codes match: mark the contact verified.") var confirm = false

        func run() throws {
            var result = try options.client.call(ContactVerifyRequest(contact: account, confirm: confirm))
            if options.json { return options.output(result) {} }
            Self.show(result)
            if !confirm, !result.verified, result.trust == "unverified", isatty(STDIN_FILENO) == 1, isatty(STDOUT_FILENO) == 1 {
                Console.line("Does \(account.printable)'s screen show the same code? [y/N] ", terminator: "")
                if let answer = readLine(), ["y", "yes"].contains(answer.lowercased()) {
                    result = try options.client.call(ContactVerifyRequest(contact: account, confirm: true))
                } else {
                    return Console.line("not verified")
                }
            }
            if let note = result.note { Console.line(note) }
            if !result.verified, result.trust == "unverified", !confirm {
                Console.line("\(account.printable) is unverified. If the codes match: `kith contacts verify \(account.printable) --confirm`")
            }
        }

        static func show(_ result: SafetyCodeResult) {
            let groups = result.code.split(separator: " ")
            Console.line("safety code for \(result.contact.printable) (\(result.trust)):")
            Console.line("    " + groups.prefix(4).joined(separator: " "))
            Console.line("    " + groups.dropFirst(4).joined(separator: " "))
        }
    }

    struct Trust: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "trust",
            abstract: "Accept a contact's new keys after they changed.",
            discussion: """
                When a contact's roster arrives signed by a key their earlier devices never approved \
                (they reinstalled without their recovery key, or someone — the server included — is \
                putting in a key of their own), this device stops sending to them and tells you. \
                Compare the new safety code with them first (`kith contacts verify ACCOUNT`); then this \
                accepts the new keys, unverified, and sends the messages that were held. A contact you \
                had verified needs --yes.
                """)
        @OptionGroup var options: ClientOptions
        @Argument(help: "The contact's account.") var account: String
        @Flag(help: "Accept the new keys of a contact you had verified.") var yes = false

        func run() throws {
            let result = try options.client.call(ContactTrustRequest(contact: account, confirm: yes))
            options.output(result) {
                Verify.show(result)
                if let note = result.note { Console.line(note) }
            }
        }
    }
}
