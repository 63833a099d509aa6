import ArgumentParser
import Foundation
import KithAPI

/// `kith networks`: the profile's Kith accounts and XMPP accounts (Protocol/local-api.md §Networks).
extension Kith {
    struct Networks: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "networks",
            abstract: "List, add and remove the networks this profile signs in to: Kith servers and XMPP accounts.",
            discussion: """
                A Kith account is added by logging in (`kith networks add kith://HOST:PORT/#KEY --account A` \
                is `kith login`). An XMPP account is added with `kith networks add xmpp:NAME@DOMAIN`: the \
                agent signs in first and keeps it only if that worked. Its password is stored in the \
                profile's store, readable by its owner alone. Messages over XMPP are not end-to-end \
                encrypted by Kith: the XMPP server can read them.
                """,
            subcommands: [List.self, Add.self, Remove.self], defaultSubcommand: List.self)

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "list", abstract: "List the networks with their state and contacts.")
            @OptionGroup var options: ProfileClientOptions

            func run() throws {
                let result = try options.client.call(NetworksRequest())
                options.output(result) {
                    if result.networks.isEmpty { Console.line("no networks; add one with `kith login` or `kith networks add xmpp:NAME@DOMAIN`") }
                    for entry in result.networks { Console.line(Networks.line(entry)) }
                }
            }
        }

        struct Add: ParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "add",
                abstract: "Add an XMPP account (xmpp:NAME@DOMAIN) or a Kith account (kith://HOST:PORT/#KEY --account A).",
                discussion: """
                    The password is read from --password-file, standard input or a prompt. For XMPP the \
                    server's certificate must be trusted by this system for DOMAIN; a server with a \
                    certificate of its own is refused with its SHA-256 fingerprint: compare it with the \
                    server's admin, then add the network again with --certificate FINGERPRINT. A server \
                    that offers no TLS is refused unless it is on this machine. Added again, an XMPP \
                    account's password, server and certificate are replaced.
                    """)
            @OptionGroup var options: ProfileClientOptions
            @Argument(help: "xmpp:NAME@DOMAIN, or a Kith server's invite kith://HOST:PORT/#KEY.") var address: String
            @Option(help: "For a Kith server: the account to log in to.") var account: String?
            @Option(help: ArgumentHelp("For XMPP: where DOMAIN's server is, HOST or HOST:PORT (default DOMAIN:5222).", valueName: "host:port"))
            var server: String?
            @Option(help: ArgumentHelp("For XMPP: accept the server's certificate with this SHA-256 fingerprint.", valueName: "fingerprint"))
            var certificate: String?
            @Option(help: ArgumentHelp("Read the password from the first line of this file.", valueName: "file"))
            var passwordFile: String?

            func validate() throws {
                if address.hasPrefix("kith://") {
                    guard account != nil else { throw ValidationError("a Kith server needs --account ACCOUNT") }
                    guard server == nil, certificate == nil else { throw ValidationError("--server and --certificate are for XMPP accounts") }
                } else {
                    guard account == nil else { throw ValidationError("--account is for Kith servers; an XMPP account is xmpp:NAME@DOMAIN") }
                }
            }

            func run() throws {
                if address.hasPrefix("kith://"), let account {
                    let password = try readPassword(file: passwordFile, prompt: "Password for \(account): ")
                    let result = try options.client.call(LoginRequest(invite: address, account: account, password: password,
                                                                      name: ProcessInfo.processInfo.hostName))
                    return options.output(result) { Console.line("logged in to \(result.account) as \(result.deviceID)") }
                }
                let password = try readPassword(file: passwordFile, prompt: "Password for \(address): ")
                let entry = try options.client.call(NetworkAddRequest(address: address, server: server, password: password,
                                                                      certificate: certificate))
                options.output(entry) {
                    Console.line("added \(entry.address): signed in, \(entry.contacts) contacts")
                    Console.line("messages over XMPP are not end-to-end encrypted by Kith: the XMPP server can read them")
                }
            }
        }

        struct Remove: ParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "remove", abstract: "Sign out of an XMPP account and forget it (its password and contacts).")
            @OptionGroup var options: ProfileClientOptions
            @Argument(help: "xmpp:NAME@DOMAIN") var address: String

            func run() throws {
                let result = try options.client.call(NetworkRemoveRequest(address: address))
                options.output(result) { Console.line("removed \(address)") }
            }
        }

        /// `xmpp:alice@example.org  online  127.0.0.1:5222  3 contacts`
        static func line(_ entry: NetworkEntry) -> String {
            var text = "\(entry.address.printable)  \(entry.state)  \(entry.server.printable)  \(entry.contacts) contacts"
            if let problem = entry.problem { text += "  (\(problem.printable))" }
            return text
        }
    }
}
