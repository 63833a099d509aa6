import ArgumentParser
import Foundation
import KithAPI

/// `kith people`: the merged contacts over the profile's networks (Protocol/local-api.md §People).
extension Kith {
    struct People: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "people",
            abstract: "List the people you reach, each with their contacts on every network; bind, unbind, rename.",
            discussion: """
                Every contact of every network (a Kith account's contacts, an XMPP account's roster) \
                belongs to one person. Kith never merges people by itself: a new contact with the same \
                id as a person's contact on another network (kith:carol and xmpp:carol@example.org), or \
                with a person's name, is offered, and only you accept it. A rejected offer, or an \
                endpoint you unbind, is never offered again. Endpoints are written kith:ACCOUNT or \
                xmpp:NAME@DOMAIN; people by name or #ID.
                """,
            subcommands: [List.self, Show.self, Bind.self, Unbind.self, Rename.self, Accept.self, Reject.self, KithOnly.self, Allow.self, Deny.self], defaultSubcommand: List.self)

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "list", abstract: "List people, their endpoints with presence, and the open offers.")
            @OptionGroup var options: ProfileClientOptions
            @Flag(help: "Only people with contacts added since you last looked; they are marked seen.") var new = false

            func run() throws {
                let result = try options.client.call(PeopleRequest(new: new ? true : nil))
                options.output(result) { People.show(result, onlyNew: new) }
            }
        }

        struct Show: ParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "show", abstract: "Show the conversation with a person over all of their networks.")
            @OptionGroup var options: ProfileClientOptions
            @Argument(help: "The person: its name or #ID.") var person: String
            @Option(help: "Show at most this many messages, newest last.") var limit = 50

            func run() throws {
                let result = try options.client.call(ConversationRequest(person: person, limit: limit))
                options.output(result) {
                    People.show(PeopleResult(people: [result.person], offers: []), onlyNew: false)
                    if result.messages.isEmpty { Console.line("no messages yet") }
                    for message in result.messages {
                        let who = message.outgoing ? "you" : message.endpoint
                        let mark = message.endToEnd ? "" : "  [xmpp: not end-to-end encrypted]"
                        Console.line("  \(who.printable): \(message.text.printable)\(mark)")
                    }
                }
            }
        }

        struct KithOnly: ParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "kith-only", abstract: "Send to a person over Kith only (on), or over whichever network they are on (off).")
            @OptionGroup var options: ProfileClientOptions
            @Argument(help: "The person: its name or #ID.") var person: String
            @Argument(help: "on or off") var setting: String

            func validate() throws {
                guard ["on", "off"].contains(setting) else { throw ValidationError("say on or off") }
            }

            func run() throws {
                let result = try options.client.call(PeopleKithOnlyRequest(person: person, on: setting == "on"))
                options.output(result) {
                    Console.line(setting == "on" ? "messages to \(person.printable) go over Kith only"
                                                 : "messages to \(person.printable) go over whichever network they are on")
                }
            }
        }

        struct Bind: ParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "bind", abstract: "Bind endpoints (and the people they belong to) into one person named NAME.")
            @OptionGroup var options: ProfileClientOptions
            @Argument(help: "The person's name.") var name: String
            @Argument(help: "kith:ACCOUNT or xmpp:NAME@DOMAIN, one or more.") var endpoints: [String]

            func run() throws {
                let result = try options.client.call(PeopleBindRequest(name: name, endpoints: endpoints))
                options.output(result) { Console.line("\(name.printable) is \(endpoints.map(\.printable).joined(separator: " and "))") }
            }
        }

        struct Unbind: ParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "unbind", abstract: "Take an endpoint out of its person; the two are never offered again.")
            @OptionGroup var options: ProfileClientOptions
            @Argument(help: "kith:ACCOUNT or xmpp:NAME@DOMAIN") var endpoint: String

            func run() throws {
                let result = try options.client.call(PeopleUnbindRequest(endpoint: endpoint))
                options.output(result) { Console.line("\(endpoint.printable) is a person of its own now") }
            }
        }

        struct Rename: ParsableCommand {
            static let configuration = CommandConfiguration(commandName: "rename", abstract: "Give a person another name.")
            @OptionGroup var options: ProfileClientOptions
            @Argument(help: "The person: its name or #ID.") var person: String
            @Argument(help: "The new name.") var name: String

            func run() throws {
                let result = try options.client.call(PeopleRenameRequest(person: person, name: name))
                options.output(result) { Console.line("\(person.printable) is \(name.printable) now") }
            }
        }

        struct Accept: ParsableCommand {
            static let configuration = CommandConfiguration(commandName: "accept", abstract: "Accept an offer: bind ENDPOINT into PERSON.")
            @OptionGroup var options: ProfileClientOptions
            @Argument(help: "The offered endpoint.") var endpoint: String
            @Argument(help: "The person it was offered for: its name or #ID.") var person: String

            func run() throws {
                try People.answer(options, endpoint, person, accept: true, done: "is bound into")
            }
        }

        struct Reject: ParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "reject", abstract: "Reject an offer: ENDPOINT is not PERSON, and is never offered for them again.")
            @OptionGroup var options: ProfileClientOptions
            @Argument(help: "The offered endpoint.") var endpoint: String
            @Argument(help: "The person it was offered for: its name or #ID.") var person: String

            func run() throws {
                try People.answer(options, endpoint, person, accept: false, done: "stays apart from")
            }
        }

        struct Allow: ParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "allow", abstract: "Let someone who asked over XMPP see your presence (and ask to see theirs).")
            @OptionGroup var options: ProfileClientOptions
            @Argument(help: "xmpp:NAME@DOMAIN, as `kith people` lists the request.") var address: String
            @Option(help: ArgumentHelp("Your XMPP account they asked, when they asked several.", valueName: "xmpp:JID")) var network: String?

            func run() throws {
                try People.answerRequest(options, address, network, allow: true, done: "may see your presence now")
            }
        }

        struct Deny: ParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "deny", abstract: "Refuse someone who asked over XMPP to see your presence.")
            @OptionGroup var options: ProfileClientOptions
            @Argument(help: "xmpp:NAME@DOMAIN, as `kith people` lists the request.") var address: String
            @Option(help: ArgumentHelp("Your XMPP account they asked, when they asked several.", valueName: "xmpp:JID")) var network: String?

            func run() throws {
                try People.answerRequest(options, address, network, allow: false, done: "was told no")
            }
        }

        /// `allow` and `deny`: the user's answer to a subscription request.
        static func answerRequest(_ options: ProfileClientOptions, _ address: String, _ network: String?, allow: Bool, done: String) throws {
            let result = try options.client.call(SubscriptionAnswerRequest(address: address, allow: allow, network: network))
            options.output(result) { Console.line("\(address.printable) \(done)") }
        }

        /// `accept` and `reject`: the user's answer to an offer.
        static func answer(_ options: ProfileClientOptions, _ endpoint: String, _ person: String, accept: Bool, done: String) throws {
            let result = try options.client.call(PeopleAnswerRequest(endpoint: endpoint, person: person, accept: accept))
            options.output(result) { Console.line("\(endpoint.printable) \(done) \(person.printable)") }
        }

        /// ```
        /// Bob (#3)
        ///   kith:bob                online   via kith:alice@3f2a…
        ///   xmpp:bob@example.org    offline  via xmpp:alice@example.org  new
        /// offer: xmpp:carol@example.org may be Carol (#4): the same id; kith people accept|reject xmpp:carol@example.org #4
        /// ```
        static func show(_ result: PeopleResult, onlyNew: Bool) {
            if result.people.isEmpty { Console.line(onlyNew ? "nobody new" : "no people yet: contacts of your networks show here") }
            for person in result.people {
                Console.line("\(person.name.printable) (#\(person.id))" + (person.kithOnly ? "  Kith only" : ""))
                for endpoint in person.endpoints {
                    let via = endpoint.network.count > 24 ? String(endpoint.network.prefix(23)) + "…" : endpoint.network
                    Console.line("  \(endpoint.address.printable)  \(endpoint.presence ?? "unknown")  via \(via.printable)"
                                 + (endpoint.new ? "  new" : ""))
                }
            }
            for request in result.requests {
                Console.line("request: \(request.address.printable) asks to see the presence of \(request.network.printable); "
                             + "kith people allow|deny \(request.address.printable)")
            }
            for offer in result.offers {
                let why = offer.reason == "sameID" ? "the same id" : "the same name"
                Console.line("offer: \(offer.endpoint.printable) may be \(offer.personName.printable) (#\(offer.person)): \(why); "
                             + "kith people accept|reject \(offer.endpoint.printable) #\(offer.person)")
            }
        }
    }
}
