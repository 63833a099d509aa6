import ArgumentParser
import Foundation
import KithAPI
import KithWatch
#if canImport(Glibc)
import Glibc
#endif

extension Watch {
    /// The view itself: the shell around `WatchBoard`. It feeds the board the cache, fetch
    /// results, the agent's pushed events, ticks and keys, and carries out what the board says.
    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the watched contacts and keep the view up to date (the default).")
        @OptionGroup var options: ClientOptions

        @Option(help: ArgumentHelp("Refresh every so many seconds instead of on every change.", valueName: "seconds"))
        var poll: Int?

        @Flag(help: "Refresh only when asked (the r key).")
        var manual = false

        @Flag(help: "Show the state once and exit (with --json: one line, for i3blocks' interval mode).")
        var once = false

        @Flag(help: "Open the watcher's web page in the agent (on 127.0.0.1) and print its address, which holds the page key.")
        var web = false

        func validate() throws {
            if let poll, poll < 1 { throw ValidationError("--poll is a number of seconds, at least 1") }
            if poll != nil && manual { throw ValidationError("--poll and --manual are two refresh modes: give one") }
        }

        func run() throws {
            let watcher = try Watcher(options)
            if web { return try WatchWeb.open(watcher, options: options) }
            let refresh: WatchBoard.Refresh = manual ? .manual : poll.map { .poll(seconds: $0) } ?? .push
            var view = WatchView(watcher: watcher, options: options, refresh: refresh, once: once)
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

    static func now() -> UInt64 { UInt64(Date().timeIntervalSince1970 * 1000) }

    mutating func run() throws {
        let cached = (try? watcher.store.shown()).flatMap { try? JSONDecoder().decode([WatchedContact].self, from: $0) } ?? []
        if once {
            // One fetch and one line; the cache only if the agent cannot answer.
            let contacts = (try? options.client.call(WatchRequest(contacts: board.watched)).contacts) ?? cached
            return show(contacts, changed: contacts.map(\.account), from: contacts == cached ? "cache" : "agent")
        }
        let raw = terminal ? RawTerminal() : nil
        defer { raw?.restore() }
        if terminal { listenForKeys() }
        listenForPushes()
        var from = "cache"
        var actions = board.handle(.started(cached: cached, nowMillis: Self.now()))
        while true {
            for action in actions {
                switch action {
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
