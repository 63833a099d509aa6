import ArgumentParser
import Foundation
import KithAPI

/// `kith accounts`: the accounts this agent holds, and links between accounts (Protocol/links.md).
extension Kith {
    struct Accounts: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "accounts",
            abstract: "List the accounts this device holds, and link accounts under a master.",
            discussion: """
                One agent holds every account its device logs in to. A person with several accounts \
                on one server links them under one master account: `kith accounts link ACCOUNT` on a \
                device of the master (the linked account's password is checked once, by the server). \
                `kith accounts unlink ACCOUNT` removes a link, from the master or from the linked \
                account's primary.
                """,
            subcommands: [List.self, Link.self, Unlink.self, SetMaster.self], defaultSubcommand: List.self)

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "list",
                abstract: "List the accounts, their links, and their unread messages per account.")
            @OptionGroup var options: ProfileClientOptions

            func run() throws {
                let result = try options.client.call(AccountsRequest())
                options.output(result) {
                    if result.accounts.isEmpty { Console.line("no accounts; log in with `kith login`") }
                    for (index, a) in result.accounts.enumerated() {
                        Console.line(Accounts.line(a) + (index == 0 && result.accounts.count > 1 ? "  (default)" : ""))
                    }
                }
            }
        }

        struct Link: ParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "link",
                abstract: "Link an account under this one (its master), with its password.",
                discussion: """
                    Run it on a device of the master account (`--account` picks it when this device \
                    holds several). The server checks ACCOUNT's password and stores the link; an \
                    account that is linked under another master, has linked accounts of its own, or is \
                    this account is refused.
                    """)
            @OptionGroup var options: ClientOptions
            @Argument(help: "The account to link.") var account: String
            @Option(help: ArgumentHelp("Read its password from the first line of this file.", valueName: "file"))
            var passwordFile: String?

            func run() throws {
                let password = try readPassword(file: passwordFile, prompt: "Password for \(account): ")
                let entry = try options.client.call(AccountLinkRequest(account: account, password: password))
                options.output(entry) {
                    Console.line("linked \(account.printable) under \(entry.account.printable)")
                    if let key = entry.recoveryKey {
                        Console.line("\(account.printable) had no device: this one is its primary. Its recovery key, shown once (keep it offline):")
                        Console.line("  \(key)")
                    } else {
                        Console.line("on \(account.printable)'s primary, approve this device: `kith devices --pending`, then `kith approve DEVICE`")
                    }
                }
            }
        }

        struct Unlink: ParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "unlink",
                abstract: "Remove the link between this account and another (from either one's primary).")
            @OptionGroup var options: ClientOptions
            @Argument(help: "The other account of the link.") var account: String

            func run() throws {
                let entry = try options.client.call(AccountUnlinkRequest(account: account))
                options.output(entry) { Console.line("removed the link between \(entry.account.printable) and \(account.printable)") }
            }
        }

        struct SetMaster: ParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "set-master",
                abstract: "Make a linked account the master: of this account and of the others linked under it.",
                discussion: """
                    Run it on this (the master) account's primary, with the new master's password. The \
                    server moves every link under ACCOUNT. Then each account's primary signs for itself: \
                    ACCOUNT's roster drops this account's devices, and this account's primary (and each \
                    other's) approves ACCOUNT's devices, pending there, as linked.
                    """)
            @OptionGroup var options: ClientOptions
            @Argument(help: "The account linked under this one that becomes the master.") var account: String
            @Option(help: ArgumentHelp("Read its password from the first line of this file.", valueName: "file"))
            var passwordFile: String?

            func run() throws {
                let password = try readPassword(file: passwordFile, prompt: "Password for \(account): ")
                let entry = try options.client.call(AccountSetMasterRequest(account: account, password: password))
                options.output(entry) {
                    Console.line("\(account.printable) is the master of \(entry.account.printable) now")
                    Console.line("approve \(account.printable)'s devices here: `kith devices --pending`, then `kith approve DEVICE`")
                }
            }
        }

        /// `alice  master of alice.family, alice.work  3 unread (bob 2, carol 1)  connected`
        static func line(_ a: AccountEntry) -> String {
            let role = switch a.role {
            case "master": "master of \(a.linked.map(\.printable).joined(separator: ", "))"
            case "linked": "linked under \(a.master?.printable ?? "?")"
            default: "no links"
            }
            let unread = a.unreadTotal == 0 ? "no unread"
                : "\(a.unreadTotal) unread (" + a.unread.sorted { $0.key < $1.key }.map { "\($0.key.printable) \($0.value)" }
                    .joined(separator: ", ") + ")"
            return "\(a.account.printable)  \(role)  \(unread)  \(a.connected ? "connected" : "not connected")"
        }
    }
}
