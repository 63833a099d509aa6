import ArgumentParser
import Foundation
import KithAPI
import KithCore
import KithStore
import KithWatch

/// `kith watch`: a light view of a few chosen contacts (presence, unread count, the newest
/// message's first line), refreshed by push, by poll or on request, drawn from the watcher's own
/// database first (Protocol/local-api.md §Watch).
struct Watch: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Watch a few chosen contacts: presence, unread messages, the newest message.",
        discussion: """
            `kith watch add bob carol` picks whom to watch (per account; --account picks one); \
            `kith watch` shows them and keeps the view up to date: redrawn in place on a terminal \
            (keys: 1–9 open a contact's messages and mark them viewed, r refresh, q quit), one line \
            per change otherwise, and with --json one JSON line per change in the shape status bars \
            take (`text`, `tooltip`, `class`), for Waybar or i3blocks (with --once for i3blocks' \
            interval mode). What it showed last is kept in the watcher's database \
            (<profile>/watch/<account>.sqlite) and drawn first on the next start. `kith watch login \
            INVITE --account NAME` adds a watcher for another account (its password is checked by its \
            server); without that account's agent the watcher holds its own watch-only session.
            """,
        subcommands: [Show.self, Add.self, Remove.self, List.self, Login.self], defaultSubcommand: Show.self)

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add", abstract: "Watch these contacts (at the end of the list).")
        @OptionGroup var options: ClientOptions
        @Argument(help: "Contact accounts.") var contacts: [String]

        func run() async throws {
            let watcher = try Watcher(options)
            // Only contacts: a name that is none is refused, not watched in vain. The agent knows;
            // without it, the server does (through the watcher's kept session).
            let known = watcher.agentRunning ? try AgentClient(paths: options.paths, account: watcher.owner)
                .call(WatchRequest(contacts: contacts)).contacts
                : try await WatchServerSource.check(contacts, store: watcher.store)
            if let stranger = known.first(where: { $0.state == "unknown" }) {
                throw fail("\(stranger.account.printable) is not a contact of \(watcher.account.printable): nothing added "
                           + "(`kith contacts` lists them)")
            }
            let before = try watcher.store.watched()
            guard before.count + Set(contacts).subtracting(before).count <= WatchLimits.contacts else {
                throw fail("a watcher shows at most \(WatchLimits.contacts) contacts: nothing added")
            }
            let added = try watcher.store.add(contacts)
            let result = WatchListResult(account: watcher.account, watched: try watcher.store.watched(), changed: added)
            options.output(result) {
                Console.line(added.isEmpty ? "already watching \(contacts.map(\.printable).joined(separator: ", ")): nothing changed"
                             : "watching \(added.map(\.printable).joined(separator: ", ")) for \(watcher.account.printable)")
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "remove", abstract: "Stop watching these contacts.")
        @OptionGroup var options: ClientOptions
        @Argument(help: "Contact accounts.") var contacts: [String]

        func run() throws {
            let watcher = try Watcher(options)
            let removed = try watcher.store.remove(contacts)
            guard !removed.isEmpty else {
                throw fail("not watching \(contacts.map(\.printable).joined(separator: ", ")): nothing removed")
            }
            let result = WatchListResult(account: watcher.account, watched: try watcher.store.watched(), changed: removed)
            options.output(result) { Console.line("no longer watching \(removed.map(\.printable).joined(separator: ", "))") }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List the watched contacts.")
        @OptionGroup var options: ClientOptions

        func run() throws {
            let watcher = try Watcher(options)
            let result = WatchListResult(account: watcher.account, watched: try watcher.store.watched(), changed: nil)
            options.output(result) {
                Console.line(result.watched.isEmpty ? "watching nobody for \(watcher.account.printable): `kith watch add CONTACT`"
                             : result.watched.map(\.printable).joined(separator: "\n"))
            }
        }
    }

    struct Login: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "login",
            abstract: "Add a watcher for an account: its password is checked by its server (spec §Watch sessions).",
            discussion: """
                For an account whose agent does not run on this device (or runs elsewhere): the \
                watcher signs in to a watch-only session, keeps its token (never the password) in \
                its database, and `kith watch add CONTACT --account NAME` picks that account's contacts.
                """)
        @OptionGroup var options: ProfileClientOptions
        @Argument(help: "The server's invite (kith://HOST:PORT/#KEY).") var invite: String
        @Option(help: "The account to watch for.") var account: String
        @Option(help: ArgumentHelp("Read the password from the first line of this file.", valueName: "file"))
        var passwordFile: String?

        func run() async throws {
            guard let parsed = try? Invite(parsing: invite) else { throw fail("\(invite) is not an invite (kith://HOST:PORT/#KEY)", status: ExitStatus.badArguments) }
            let password = try readPassword(file: passwordFile, prompt: "Password for \(account): ")
            let owner = AgentStore.owner(account: account, invite: invite)
            let store = try WatcherStore(path: options.paths.directory.appendingPathComponent("watch/\(owner).sqlite").path)
            try store.setMeta("token", nil)
            try await WatchServerSource.signIn(invite: parsed, account: account, password: password, store: store)
            try store.setMeta("account", account)
            try store.setMeta("invite", invite)
            let result = WatchListResult(account: account, watched: try store.watched(), changed: nil)
            options.output(result) {
                Console.line("watching for \(account.printable) through \(parsed.host):\(parsed.port); pick contacts with "
                             + "`kith watch add CONTACT --account \(account.printable)`")
            }
        }
    }
}

/// `kith watch add/remove/list --json`.
struct WatchListResult: Codable {
    var account: String
    var watched: [String]
    /// The contacts this call added or removed.
    var changed: [String]?
}

/// The account a watcher is for, its database, and whether the account's agent runs here.
struct Watcher {
    /// The account's name, for people.
    let account: String
    /// The account's name with its server's key (`alice@3f2a…`): one watcher (and database) per account.
    let owner: String
    let store: WatcherStore
    /// Whether the account's agent answered: then the watcher uses it and opens no server connection.
    let agentRunning: Bool

    init(_ options: ClientOptions) throws {
        let folder = options.paths.directory.appendingPathComponent("watch")
        func open(_ owner: String) throws -> WatcherStore { try WatcherStore(path: folder.appendingPathComponent("\(owner).sqlite").path) }
        let status: StatusResult
        do {
            status = try AgentClient(paths: options.paths).call(StatusRequest())
            // An account the agent does not hold: a watcher of its own (`kith watch login`).
            if let wanted = options.account, !(status.accounts ?? []).contains(where: { [$0.account, $0.owner].contains(wanted) }) {
                throw fail("the agent does not hold \(wanted)", status: ExitStatus.agentNotRunning)
            }
        } catch let failure as CLIError where failure.status == ExitStatus.agentNotRunning {
            // No agent: the watcher of --account, or the only one this profile has, from its database.
            let known = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [])
                .filter { $0.hasSuffix(".sqlite") }.map { String($0.dropLast(".sqlite".count)) }.sorted()
            let matching = known.filter { options.account == nil || $0 == options.account || $0.hasPrefix(options.account! + "@") }
            guard matching.count == 1 else { throw failure }
            (owner, store, agentRunning) = (matching[0], try open(matching[0]), false)
            account = (try? store.meta("account")) ?? String(owner.split(separator: "@").first ?? Substring(owner))
            return
        }
        guard let name = status.account else { throw fail("this device is not logged in; run `kith login`", status: ExitStatus.notLoggedIn) }
        let summary = status.accounts?.first { entry in options.account.map { [entry.account, entry.owner].contains($0) } ?? false }
            ?? status.accounts?.first { $0.account == name }
        (account, owner, agentRunning) = (summary?.account ?? name, summary?.owner ?? name, true)
        store = try open(owner)
        // What a watcher needs to sign in by itself when the agent does not run.
        try store.setMeta("account", account)
        if let invite = summary?.server ?? status.server { try store.setMeta("invite", invite) }
    }
}
