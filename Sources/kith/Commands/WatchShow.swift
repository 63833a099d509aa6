import ArgumentParser
import Foundation
import KithAPI
import KithCore
import KithWatch
#if canImport(Glibc)
import Glibc
#endif

extension Watch {
    /// The view itself: the shell around `WatchBoard`. It feeds the board the cache, fetch
    /// results, the agent's pushed events, ticks and keys, and carries out what the board says.
    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "Show the watched contacts and keep the view up to date (the default).")
        @OptionGroup var options: ClientOptions

        @Option(help: ArgumentHelp("Refresh every so many seconds instead of on every change.", valueName: "seconds"))
        var poll: Int?

        @Flag(help: "Refresh only when asked (the r key).")
        var manual = false

        @Flag(help: "Show the state once and exit (with --json: one line, for i3blocks' interval mode).")
        var once = false

        @Option(help: ArgumentHelp("""
            Without the account's agent running, the watcher signs in to the server itself with the account's \
            password: from the first line of this file, else standard input when it is not a terminal, else a prompt.
            """, valueName: "file"))
        var passwordFile: String?

        @Flag(help: "Open the watcher's web page in the agent (on 127.0.0.1) and print its address, which holds the page key.")
        var web = false

        func validate() throws {
            if let poll, poll < 1 { throw ValidationError("--poll is a number of seconds, at least 1") }
            if poll != nil && manual { throw ValidationError("--poll and --manual are two refresh modes: give one") }
            if web && (poll != nil || manual || once) { throw ValidationError("--web opens the page and exits: it takes no refresh mode") }
        }

        func run() throws {
            let watcher = try Watcher(options)
            if web { return try WatchWeb.open(watcher, options: options) }
            let refresh: WatchBoard.Refresh = manual ? .manual : poll.map { .poll(seconds: $0) } ?? .push
            var view = WatchView(watcher: watcher, options: options, refresh: refresh, once: once)
            if !watcher.agentRunning { try view.useServer(passwordFile: passwordFile) }
            try view.run()
        }
    }
}

/// Runs one watcher until `q`, the end of input's keys, or a signal.
struct WatchView {
    let watcher: Watcher
    let options: ClientOptions
    let once: Bool
    var board: WatchBoard
    let inbox = WatchInbox()
    let terminal: Bool
    /// The watcher's own server session, when the account's agent does not run here.
    var server: WatchServerSource?
    /// The last notice and the opened contact's messages, drawn under the board on a terminal.
    var notice: String?
    var opened: [String] = []

    init(watcher: Watcher, options: ClientOptions, refresh: WatchBoard.Refresh, once: Bool) {
        self.watcher = watcher
        self.options = options
        self.once = once
        board = WatchBoard(watched: (try? watcher.store.watched()) ?? [], refresh: refresh)
        terminal = isatty(1) == 1 && isatty(0) == 1 && !options.json && !once
    }

    /// Without an agent: the server's invite and the account from the watcher's database, and the password.
    mutating func useServer(passwordFile: String?) throws {
        guard let text = try watcher.store.meta("invite"), let invite = try? Invite(parsing: text) else {
            throw fail("no agent is running and this watcher has never run with one, so it does not know the server: "
                       + "start the agent once (`kith agent`), or run `kith watch` beside it", status: ExitStatus.agentNotRunning)
        }
        let password = try readPassword(file: passwordFile, prompt: "Password for \(watcher.account) (the watcher signs in itself): ")
        server = WatchServerSource(invite: invite, account: watcher.account, password: password, contacts: board.watched,
                                   store: watcher.store, inbox: inbox)
    }

    static func now() -> UInt64 { UInt64(Date().timeIntervalSince1970 * 1000) }

    mutating func run() throws {
        let cached = (try? watcher.store.shown()).flatMap { try? JSONDecoder().decode([WatchedContact].self, from: $0) } ?? []
        if once { return showOnce(cached: cached) }
        let raw = terminal ? RawTerminal() : nil
        defer { raw?.restore() }
        if terminal { listenForKeys() }
        var from = "cache"
        var actions = board.handle(.started(cached: cached, nowMillis: Self.now()))
        // The cache is drawn before any traffic: then the sources start.
        for case .show(let contacts, let changed) in actions { show(contacts, changed: changed, from: from) }
        actions.removeAll { if case .show = $0 { true } else { false } }
        if let server { server.start() } else { listenForPushes() }
        while true {
            for action in actions {
                switch action {
                case .fetch where server != nil:
                    from = "server"
                    server?.refresh()
                case .fetch:
                    do {
                        let contacts = try options.client.call(WatchRequest(contacts: board.watched)).contacts
                        from = "agent"
                        notice = nil
                        inbox.post(.fetched(contacts, nowMillis: Self.now()))
                    } catch {
                        inbox.post(.fetchFailed("\(error)", nowMillis: Self.now()))
                    }
                case let .show(contacts, changed):
                    show(contacts, changed: changed, from: from)
                case .save(let contacts):
                    if let data = try? JSONEncoder().encode(contacts) { try? watcher.store.saveShown(data, nowMillis: Self.now()) }
                case .open(let contact):
                    open(contact)
                case .notice(let text):
                    notice = text
                    if terminal { draw() } else { FileHandle.standardError.write(Data("kith watch: \(text)\n".utf8)) }
                case .quit:
                    return
                }
            }
            actions = board.handle(inbox.next(timeoutMillis: 250) ?? .tick(nowMillis: Self.now()))
        }
    }

    /// One state and one line: the first the source gives, or the cache if it gives none.
    private mutating func showOnce(cached: [WatchedContact]) {
        guard let server else {
            let contacts = (try? options.client.call(WatchRequest(contacts: board.watched)).contacts) ?? cached
            return show(contacts, changed: contacts.map(\.account), from: contacts == cached ? "cache" : "agent")
        }
        server.start()
        if case .fetched(let contacts, _)? = inbox.next(timeoutMillis: 10_000) {
            return show(contacts, changed: contacts.map(\.account), from: "server")
        }
        show(cached, changed: cached.map(\.account), from: "cache")
    }

    private mutating func show(_ contacts: [WatchedContact], changed: [String], from: String) {
        if options.json {
            var bar = WatchText.statusBar(contacts)
            bar.from = from
            return Console.line(JSONOutput.line(bar))
        }
        if terminal { return draw() }
        if contacts.isEmpty { return Console.line(WatchText.board([], account: watcher.account)[0]) }
        for contact in contacts where changed.contains(contact.account) { Console.line(WatchText.line(contact)) }
    }

    /// The whole screen: the board, a notice, the opened messages.
    private func draw() {
        var lines = WatchText.board(board.shown, account: watcher.account)
        if let notice { lines.append("! \(notice.printable)") }
        lines += opened
        Console.line("\u{1b}[H\u{1b}[2J" + lines.joined(separator: "\r\n"), terminator: "\r\n")
    }

    /// A contact's newest messages, then all of them marked viewed (on every device of the account).
    private mutating func open(_ contact: String) {
        do {
            let messages = try options.client.call(InboxRequest(limit: 10, contact: contact)).messages
            _ = try options.client.call(ReadRequest(contact: contact, all: true))
            opened = ["", "messages from \(contact.printable) (now viewed):"]
                + (messages.isEmpty ? ["  none"] : messages.map { "  \(ago($0.sentAtMillis))  \($0.text.printable)" })
                + ["the conversation: `kith inbox --contact \(contact.printable)`; answer with `kith send \(contact.printable) TEXT`"]
        } catch {
            opened = ["", "cannot open \(contact.printable)'s messages: \(error)"]
        }
        if terminal { draw() } else { opened.forEach { Console.line($0) } }
    }

    /// Keys from the terminal, one event each.
    private func listenForKeys() {
        let inbox = self.inbox
        Thread.detachNewThread {
            var byte: UInt8 = 0
            while read(0, &byte, 1) == 1 { inbox.post(.key(Character(Unicode.Scalar(byte)))) }
            inbox.post(.key("q"))  // the end of input ends the view
        }
    }

    /// The agent's events (push mode's source); reconnects every 2 s while the agent is away.
    private func listenForPushes() {
        let (inbox, watched, owner, account) = (self.inbox, board.watched, watcher.owner, watcher.account)
        let client = options.client
        Thread.detachNewThread {
            while true {
                // Subscribed (again): what changed meanwhile is fetched.
                try? client.events(subscribed: { inbox.post(.pushed(contact: nil, nowMillis: WatchView.now())) }) { event, _ in
                    if let of = event.account, of != account && of != owner { return }
                    let contact = event.contact
                    if let contact, !watched.contains(contact), event.event != .contacts { return }
                    inbox.post(.pushed(contact: event.event == .contacts ? nil : contact, nowMillis: WatchView.now()))
                }
                Thread.sleep(forTimeInterval: 2)
            }
        }
    }
}

/// Events for the view's loop from its threads (keys, pushes) and from itself (fetch results).
final class WatchInbox: @unchecked Sendable {
    private let condition = NSCondition()
    private var queue: [WatchBoard.Event] = []

    func post(_ event: WatchBoard.Event) {
        condition.lock()
        queue.append(event)
        condition.signal()
        condition.unlock()
    }

    /// The next event, or nil after `timeoutMillis` without one.
    func next(timeoutMillis: Int) -> WatchBoard.Event? {
        condition.lock()
        defer { condition.unlock() }
        if queue.isEmpty { _ = condition.wait(until: Date().addingTimeInterval(Double(timeoutMillis) / 1000)) }
        return queue.isEmpty ? nil : queue.removeFirst()
    }
}

/// The terminal in raw mode (keys arrive one by one, unechoed) until `restore`.
final class RawTerminal {
    private var saved = termios()

    init() {
        tcgetattr(0, &saved)
        var raw = saved
        raw.c_lflag &= ~tcflag_t(ICANON | ECHO)
        tcsetattr(0, TCSANOW, &raw)
        Console.line("\u{1b}[?25l", terminator: "")  // hide the cursor
    }

    func restore() {
        var saved = self.saved
        tcsetattr(0, TCSANOW, &saved)
        Console.line("\u{1b}[?25h", terminator: "")
    }
}
