import KithAPI
import ArgumentParser
import Foundation
import KithAgent

extension Kith {
    struct Send: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "send",
            abstract: "Send a note to another of your devices, or a message to a contact.",
            discussion: """
                TO is one of your devices (alice-PC-2: a note to it), a contact's account (bob: a \
                message to every device of bob), or one device of a contact (bob-MP-1). It is \
                end-to-end encrypted for each receiving device and committed to this device's outbox \
                before the command returns; it goes through the server, at once if the receiver is \
                online and when it comes back if not. When the profile has XMPP accounts (`kith \
                networks`), TO is looked up among people first (`kith people`: a name, or an endpoint \
                such as xmpp:bob@example.org): the message goes over whichever network the person is \
                on, Kith first among equals; over XMPP it is not end-to-end encrypted, and the \
                command says so every time.
                """)
        @OptionGroup var options: ClientOptions

        @Argument(help: "A device id of yours, a contact's account, or a contact's device id.")
        var to: String

        @Argument(help: "The text (at most 16384 bytes).")
        var text: String

        func run() throws {
            let result = try options.client.call(SendRequest(to: to, text: text))
            options.output(result) {
                let copies = result.devices.map { " (\($0.count) device\($0.count == 1 ? "" : "s"))" } ?? ""
                let over = result.network.map { " over \($0.printable)" } ?? ""
                Console.line(result.relayed ? "sent to \(result.to.printable)\(over)\(copies)\(result.code.map { ", message \($0)" } ?? "")"
                                            : "queued for \(result.to.printable)\(over)\(copies): "
                                                + (result.waiting ?? "it goes out when the server is reachable"))
                if let warning = result.warning { Console.line("warning: \(warning.printable)") }
            }
        }
    }

    struct Inbox: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "inbox",
            abstract: "Show messages from contacts, with unread marks, and notes from your other devices.",
            discussion: "`*` marks an unread message; `kith read CODE` shows one and marks it viewed on all your devices.")
        @OptionGroup var options: ClientOptions

        @Option(help: "Only messages from this contact's account.")
        var contact: String?

        @Option(help: "Show at most this many of each, newest last.")
        var limit = 50

        @Option(help: ArgumentHelp("Show this message and mark it viewed (as `kith read CODE`).", valueName: "code"))
        var open: UInt64?

        func run() throws {
            if let open {
                return try Read.show(options, ReadRequest(code: open))
            }
            // Without --account, people see every account the agent holds, each on its own page;
            // scripts (--json) get the default account's, as before there were several.
            let accounts = options.account == nil && !options.json ? try options.client.call(AccountsRequest()).accounts : []
            // Messages over the profile's XMPP accounts, when no account (and no contact) is named.
            let xmpp = options.account == nil && contact == nil ? try options.client.call(XMPPInboxRequest(limit: limit)).messages : []
            guard accounts.count > 1 else {
                var result = try options.client.call(InboxRequest(limit: limit, contact: contact))
                if !xmpp.isEmpty { result.xmpp = xmpp }
                return options.output(result) {
                    Self.show(result)
                    Self.showXMPP(xmpp)
                }
            }
            for (index, account) in accounts.enumerated() {
                if index > 0 { Console.line("") }
                Console.line("== \(account.account.printable) (\(account.role == "linked" ? "linked under \(account.master?.printable ?? "?")" : account.role))")
                var client = options.client
                client.account = account.owner
                Self.show(try client.call(InboxRequest(limit: limit, contact: contact)))
            }
            Self.showXMPP(xmpp)
        }

        /// Messages over XMPP, each with the account that carried it.
        static func showXMPP(_ messages: [ConversationEntry]) {
            guard !messages.isEmpty else { return }
            Console.line("")
            Console.line("== over XMPP (not end-to-end encrypted by Kith)")
            for m in messages {
                Console.line("  \(m.endpoint.printable)  \(ago(m.atMillis))  \(m.text.printable)  (to \(m.network.printable))")
            }
        }

        /// One account's page: its unread counts (per contact, and their sum), messages and notes.
        static func show(_ result: InboxResult) {
            let total = result.unread.values.reduce(0, +)
            Console.line("\(total) unread" + (total == 0 ? "" : ": " + result.unread.sorted { $0.key < $1.key }
                .map { "\($0.key.printable) \($0.value)" }.joined(separator: ", ")))
            for m in result.messages {
                Console.line("\(m.viewed ? " " : "*") \(m.code)  \(m.from.printable)  \(ago(m.sentAtMillis))  \(m.text.printable)")
            }
            if !result.notes.isEmpty { Console.line("notes from my devices:") }
            for note in result.notes { Console.line("  \(note.from.printable)  \(ago(note.sentAtMillis))  \(note.text.printable)") }
        }
    }

    struct Read: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "read",
            abstract: "Show a message and mark it viewed here and on all your other devices.",
            discussion: """
                The other devices of your account turn it viewed and drop its unread mark: directly \
                when they are online, when they come back when they are not. `--all CONTACT` marks \
                everything from a contact viewed with one notice.
                """)
        @OptionGroup var options: ClientOptions

        @Argument(help: "The message's code, as `kith inbox` shows it.")
        var code: UInt64?

        @Option(help: ArgumentHelp("Mark every message from this contact viewed.", valueName: "contact"))
        var all: String?

        func validate() throws {
            guard (code == nil) != (all == nil) else { throw ValidationError("give a message code, or --all CONTACT") }
        }

        func run() throws {
            let request = all.map { ReadRequest(contact: $0, all: true) } ?? ReadRequest(code: code)
            try Self.show(options, request)
        }

        static func show(_ options: ClientOptions, _ request: ReadRequest) throws {
            let result = try options.client.call(request)
            options.output(result) {
                for m in result.messages {
                    Console.line("\(m.code)  from \(m.from.printable), \(ago(m.sentAtMillis))")
                    Console.line(m.text.printable)
                }
                if result.messages.isEmpty { Console.line("\(result.newlyViewed) message(s) marked viewed") }
            }
        }
    }

    struct Events: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "events",
            abstract: "Print the agent's events as they happen (messages, viewed marks, contacts, transfers, approvals).",
            discussion: "One line per event; with --json, the local API's JSON lines (Protocol/local-api.md §Events).")
        @OptionGroup var options: ClientOptions

        func run() throws {
            try options.client.events { event, line in
                if options.json { return Console.line(String(decoding: line, as: UTF8.self)) }
                var parts = [event.event.rawValue]
                if let account = event.account { parts.insert("[\(account.printable)]", at: 0) }
                if let from = event.from ?? event.contact { parts.append(from.printable) }
                if let codes = event.codes { parts.append(codes.count == 1 ? "\(codes[0])" : "\(codes.count) messages") }
                if let by = event.by { parts.append("on \(by.printable)") }
                if let unread = event.unread { parts.append("unread \(unread)") }
                if let state = event.state { parts.append(state.printable) }
                if event.notify == false { parts.append("(silent)") }
                Console.line(parts.joined(separator: "  "))
            }
        }
    }

    struct Contacts: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "contacts",
            abstract: "List your contacts (other accounts), ask for or accept one, remove one, or verify their keys.",
            subcommands: [List.self, Add.self, Accept.self, Remove.self, Verify.self, Trust.self], defaultSubcommand: List.self)

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(commandName: "list", abstract: "List contacts and open requests, with presence.")
            @OptionGroup var options: ClientOptions

            func run() throws {
                // Without --account, people see the contacts of every account the agent holds, each
                // under its own heading; scripts (--json) get the default account's, as before.
                let accounts = options.account == nil && !options.json ? try options.client.call(AccountsRequest()).accounts : []
                guard accounts.count > 1 else {
                    let result = try options.client.call(ContactsRequest())
                    return options.output(result) { Self.show(result) }
                }
                for (index, account) in accounts.enumerated() {
                    if index > 0 { Console.line("") }
                    Console.line("== \(account.account.printable)")
                    var client = options.client
                    client.account = account.owner
                    Self.show(try client.call(ContactsRequest()))
                }
            }

            static func show(_ result: ContactsResult) {
                if result.contacts.isEmpty { Console.line("no contacts; ask for one with `kith contacts add ACCOUNT`") }
                for c in result.contacts {
                    switch c.state {
                    case "contact":
                        Console.line("\(c.account.printable)  \(c.onlineDevices)/\(c.devices.count) online"
                            + (c.unread > 0 ? "  \(c.unread) unread" : "") + (c.trust.map { "  \($0)" } ?? ""))
                        if let warning = c.warning { Console.line("  ! \(warning)") }
                    case "requested": Console.line("\(c.account.printable)  asked; waiting for them to accept")
                    default: Console.line("\(c.account.printable)  asks to be your contact: `kith contacts accept \(c.account.printable)`")
                    }
                }
            }
        }

        struct Add: ParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "add",
                abstract: "Ask another account to be your contact (if it asked you already, you are contacts at once).")
            @OptionGroup var options: ClientOptions
            @Argument(help: "The other account's name.") var account: String

            func run() throws {
                try Contacts.change(ContactAddRequest.self, account, options, done: "asked \(account.printable); you are contacts once they accept")
            }
        }

        struct Accept: ParsableCommand {
            static let configuration = CommandConfiguration(commandName: "accept", abstract: "Accept an account's request to be your contact.")
            @OptionGroup var options: ClientOptions
            @Argument(help: "The account that asked.") var account: String

            func run() throws { try Contacts.change(ContactAcceptRequest.self, account, options, done: "\(account.printable) is your contact") }
        }

        struct Remove: ParsableCommand {
            static let configuration = CommandConfiguration(commandName: "remove", abstract: "End a contact, withdraw your request, or refuse theirs.")
            @OptionGroup var options: ClientOptions
            @Argument(help: "The other account's name.") var account: String

            func run() throws { try Contacts.change(ContactRemoveRequest.self, account, options, done: "removed \(account.printable)") }
        }

        static func change<R: ContactChangeRequest>(_: R.Type, _ account: String, _ options: ClientOptions, done: String) throws {
            let result = try options.client.call(R(contact: account))
            options.output(result) { Console.line(done) }
        }
    }
}
