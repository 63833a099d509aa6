import ArgumentParser
import Foundation
import KithAPI
import KithAgent
#if canImport(Glibc)
import Glibc
#endif

/// The CLI's only way to the agent: one JSON request line over the profile's Unix socket.
struct AgentClient {
    let paths: AgentPaths
    /// The account of the agent the requests are for; nil: its default one (logged in last).
    var account: String? = nil
    func call<R: APIRequest>(_ request: R, timeout: Int = 60) throws -> R.Result {
        let fd = try open(timeout: timeout)
        defer { close(fd) }
        try send(request, fd)
        var reader = LineReader(fd: fd)
        guard let line = reader.next() else { throw fail("the agent did not answer (see \(paths.log.path))") }
        return try decode(line, as: R.Result.self)
    }

    /// Subscribes to the agent's events and hands each line to `handle` until the agent goes away;
    /// `subscribed` runs once the agent has taken the subscription.
    func events(subscribed: () -> Void = {}, _ handle: (AgentEvent, [UInt8]) -> Void) throws {
        let subscription = try subscribe()
        subscribed()
        while let (event, line) = subscription.next() { handle(event, line) }
        throw fail("the agent stopped")
    }

    /// The agent's events on a connection of their own, taken by the agent when this returns.
    func subscribe() throws -> EventSubscription {
        let fd = try open(timeout: 0)
        do {
            try send(EventsRequest(), fd)
            var reader = LineReader(fd: fd)
            guard let first = reader.next() else { throw fail("the agent did not answer (see \(paths.log.path))") }
            _ = try decode(first, as: EmptyResult.self)
            return EventSubscription(fd: fd, reader: reader)
        } catch {
            close(fd)
            throw error
        }
    }

    private func open(timeout: Int) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw fail("cannot create a socket") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let path = Array(paths.socket.path.utf8)
        guard path.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(fd)
            throw fail(paths.socketPathProblem ?? "socket path too long")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path)
            raw[path.count] = 0
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            throw fail(Self.noAgent(paths), status: ExitStatus.agentNotRunning)
        }
        var tv = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    /// Why nothing answers on the profile's socket, in one sentence: an unknown profile (with the
    /// ones that exist), or a profile whose agent is not running.
    static func noAgent(_ paths: AgentPaths) -> String {
        guard FileManager.default.fileExists(atPath: paths.directory.path) else {
            let parent = paths.directory.deletingLastPathComponent()
            let known = paths.profile.contains("/") ? [] : ((try? FileManager.default.contentsOfDirectory(atPath: parent.path)) ?? [])
                .filter { FileManager.default.fileExists(atPath: parent.appendingPathComponent("\($0)/agent.sqlite").path) }.sorted()
            return "there is no profile \(paths.profile)"
                + (known.isEmpty ? "" : " (profiles here: \(known.joined(separator: ", ")))")
                + "; `kith agent --profile \(paths.profile)` makes it"
        }
        return "no agent is running for profile \(paths.profile): start it with `kith agent --profile \(paths.profile)`"
    }

    private func send(_ request: some APIRequest, _ fd: Int32) throws {
        let line = try APICodec.encode(request, account: account)
        let sent = line.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard sent == line.count else { throw fail("the agent closed the connection") }
    }

    private func decode<R: Codable & Sendable>(_ line: [UInt8], as _: R.Type) throws -> R {
        let decoded = try APICodec.response(R.self, from: line)
        if let result = decoded.result, decoded.ok { return result }
        let error = decoded.error ?? AgentError(.internalError, "the agent gave no answer")
        throw CLIError(agent: error)
    }
}

/// The agent's events, read as they come or with a deadline: a command that follows something
/// the agent does wakes when it changes, instead of asking again and again.
final class EventSubscription {
    private let fd: Int32
    private var reader: LineReader

    /// Takes `fd` (closed with this); `reader` may hold lines already read from it.
    init(fd: Int32, reader: LineReader? = nil) {
        self.fd = fd
        self.reader = reader ?? LineReader(fd: fd)
    }

    deinit { close(fd) }

    /// The agent closed the stream (it stopped).
    var ended: Bool { reader.ended }

    /// The next event; nil when the agent closed the stream, or when `timeoutMillis` (if not
    /// negative) passed without one. Lines that are not events are skipped.
    func next(timeoutMillis: Int32 = -1) -> (event: AgentEvent, line: [UInt8])? {
        while let line = reader.next(timeoutMillis: timeoutMillis) {
            if let event = try? APICodec.event(from: line) { return (event, line) }
        }
        return nil
    }

    /// The first event that `matches` within `window`; nil when the window passes without one,
    /// or the agent closed the stream.
    func first(within window: Duration, where matches: (AgentEvent) -> Bool) -> AgentEvent? {
        let deadline = ContinuousClock.now + window
        while true {
            let left = deadline - ContinuousClock.now
            guard left > .zero else { return nil }
            guard let (event, _) = next(timeoutMillis: Int32((left / .milliseconds(1)).rounded(.up))) else { return nil }
            if matches(event) { return event }
        }
    }
}

/// Reads `\n`-terminated lines from a socket.
struct LineReader {
    let fd: Int32
    private var buffer: [UInt8] = []
    /// The other end closed the stream, or reading it failed.
    private(set) var ended = false

    init(fd: Int32) { self.fd = fd }

    /// The next line without its newline; nil at the end of the stream, on the socket's receive
    /// timeout, or when `timeoutMillis` (if not negative) passes with no whole line.
    mutating func next(timeoutMillis: Int32 = -1) -> [UInt8]? {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            if let newline = buffer.firstIndex(of: 0x0a) {
                let line = Array(buffer[..<newline])
                buffer.removeFirst(newline + 1)
                return line
            }
            if ended { return nil }
            if timeoutMillis >= 0 {
                var ready = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&ready, 1, timeoutMillis) > 0 else { return nil }
            }
            let n = recv(fd, &chunk, chunk.count, 0)
            guard n > 0 else {
                if n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) { ended = true }
                return nil
            }
            buffer += chunk[0..<n]
        }
    }
}

/// `--profile` and `--json`: what every verb that talks to the agent takes. `kith login` and
/// `kith signup` take only these (their `--account` is the account to log in to or create).
struct ProfileClientOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The profile: a name under ~/.local/share/kith, or a directory path. Default: $KITH_PROFILE or 'default'.",
                               valueName: "name"))
    var profile: String?

    @Flag(help: "Print the result as JSON, for scripts; a failure as {\"error\": {\"code\": …, \"message\": …}} on stdout.")
    var json = false

    var paths: AgentPaths { AgentPaths(profile: profile) }
    var client: AgentClient { AgentClient(paths: paths) }

    /// Prints `value` as JSON when --json was given; otherwise runs `human`.
    func output<T: Encodable>(_ value: T, human: () -> Void) {
        guard json else { return human() }
        Console.line(JSONOutput.document(value))
    }
}

/// `--profile`, `--json` and `--account`: the verbs that act for one of the agent's accounts.
struct ClientOptions: ParsableArguments {
    @OptionGroup var common: ProfileClientOptions

    @Option(help: ArgumentHelp("""
        Which of the agent's accounts: its name, or name@serverkey when one name is on two servers \
        (`kith status` lists them). Default: the account logged in last.
        """, valueName: "account"))
    var account: String?

    var json: Bool { common.json }
    var paths: AgentPaths { common.paths }
    var client: AgentClient { AgentClient(paths: paths, account: account) }

    func output<T: Encodable>(_ value: T, human: () -> Void) { common.output(value, human: human) }
}

/// "now", "12 s ago", "3 min ago", for people.
func ago(_ millis: UInt64, now: UInt64 = UInt64(Date().timeIntervalSince1970 * 1000)) -> String {
    guard millis > 0 else { return "never" }
    let seconds = (now > millis ? now - millis : 0) / 1000
    return seconds < 5 ? "now" : DeviceStatus.phrase(secondsAgo: seconds)
}
