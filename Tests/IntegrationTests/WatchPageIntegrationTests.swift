import Foundation
import KithAPI
import KithTestSupport
import Testing

/// The watcher's web page with real processes (Protocol/local-api.md §The watch page): alice's
/// agent serves it for bob and carol. Without the key, with a foreign Origin or a wrong Host, it
/// answers 403 and nothing else, event stream included; with the key it sets the cookie; in
/// headless Chromium (Tools/watch-page-check) bob's count goes up live when he writes, and a click
/// shows his messages and marks them read.
@Suite(.serialized, .fewAtATime) struct WatchPageIntegrationTests {
    struct Answer {
        let status: Int
        let head: String
        let body: String
    }

    /// One HTTP/1.1 request over a plain socket, so the test sets Host and Origin as it likes; what
    /// came back until the page closed the connection, or `timeout` seconds without a byte.
    static func http(_ port: Int, _ target: String, method: String = "GET", host: String? = nil, headers: [String] = [],
                     body: String = "", timeout: Int = 5) throws -> Answer {
        let socket = try RawSocket(port: port)
        var lines = ["\(method) \(target) HTTP/1.1", "Host: \(host ?? "127.0.0.1:\(port)")"] + headers
        if method == "POST" { lines += ["Content-Type: application/x-www-form-urlencoded", "Content-Length: \(body.utf8.count)"] }
        socket.send(Array((lines.joined(separator: "\r\n") + "\r\n\r\n" + body).utf8))
        let text = String(decoding: socket.receive(timeout: timeout), as: UTF8.self)
        let parts = text.components(separatedBy: "\r\n\r\n")
        let status = parts[0].split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        return Answer(status: status, head: parts[0], body: parts.dropFirst().joined(separator: "\r\n\r\n"))
    }

    /// A 403 says nothing: no body, no CORS header.
    static func refusedQuietly(_ answer: Answer) -> Bool {
        answer.status == 403 && answer.body.isEmpty && !answer.head.lowercased().contains("access-control")
    }

    @Test func onlyTheKeyOpensThePageAndABrowserSeesItLive() async throws {
        let (server, alice, others) = try await WatchIntegrationTests.people("watch-web")
        let (bob, carol) = (others[0], others[1])
        _ = try alice.cli(["watch", "add", "bob", "carol"], as: WatchListResult.self)
        let first = try alice.cli(["watch", "--web"], as: WatchPageResult.self)
        let port = first.port
        let key = String(first.address.split(separator: "=").last ?? "")
        #expect(first.address == "http://127.0.0.1:\(port)/?key=\(key)" && key.count == 64, "\(first.address)")
        let cookie = "Cookie: kith-watch-\(port)=\(key)"
        let origin = "Origin: http://127.0.0.1:\(port)"

        // Without the key or the cookie: 403 and nothing else, the event stream too.
        for target in ["/", "/events", "/messages?contact=bob", "/?key=\(String(repeating: "0", count: 64))"] {
            let answer = try Self.http(port, target)
            #expect(Self.refusedQuietly(answer), "\(target): \(answer.head)")
        }
        // The key: a cookie only this page's own requests carry, and the address without the key.
        let entered = try Self.http(port, "/?key=\(key)")
        #expect(entered.status == 303 && entered.head.contains("Location: /\r\n"), "\(entered.head)")
        #expect(entered.head.contains("Set-Cookie: kith-watch-\(port)=\(key); HttpOnly; SameSite=Strict; Path=/"), "\(entered.head)")
        let page = try Self.http(port, "/", headers: [cookie])
        #expect(page.status == 200 && page.body.contains("<title>kith watch</title>") && !page.head.lowercased().contains("access-control"))
        // The cookie with a wrong Host (DNS rebinding) or a foreign Origin: 403.
        for host in ["localhost:\(port)", "evil.example", "127.0.0.1:\(port + 1)"] {
            #expect(Self.refusedQuietly(try Self.http(port, "/", host: host, headers: [cookie])), "Host \(host)")
        }
        for target in ["/", "/events"] {
            #expect(Self.refusedQuietly(try Self.http(port, target, headers: [cookie, "Origin: http://evil.example"])), "\(target)")
        }
        #expect(Self.refusedQuietly(try Self.http(port, "/read", method: "POST", headers: [cookie], body: "contact=bob")),
                "a write without the page's Origin")
        // With the cookie: the stream's first event is the watch result.
        let events = try Self.http(port, "/events", headers: [cookie, origin], timeout: 2)
        #expect(events.status == 200 && events.head.contains("text/event-stream") && events.body.contains("\"account\":\"bob\""),
                "\(events.head)\n\(events.body)")
        let messages = try Self.http(port, "/messages?contact=dave", headers: [cookie])
        #expect(messages.status == 404, "an unwatched contact's messages")

        try await Self.bounded(port, cookie: cookie)

        // Opening the page again: a new key; the old one and its cookie open nothing.
        let second = try alice.cli(["watch", "--web"], as: WatchPageResult.self)
        #expect(second.address != first.address)
        #expect((try? RawSocket(port: first.port)) == nil, "the first page's port is closed")
        // Half a request: closed unanswered at the 10 s deadline (checked at the end).
        let slow = try RawSocket(port: second.port)
        slow.send(Array("GET / HTTP/1.1\r\nHost: 127.0.0.1:\(second.port)\r\n".utf8))
        let slowSince = Date()
        // An event stream outlives that deadline, and says `: keepalive` every 15 s.
        let stream = try RawSocket(port: second.port)
        let secondCookie = "Cookie: kith-watch-\(second.port)=\(second.address.split(separator: "=").last ?? "")"
        stream.send(Array("GET /events HTTP/1.1\r\nHost: 127.0.0.1:\(second.port)\r\n\(secondCookie)\r\n\r\n".utf8))
        #expect(Self.refusedQuietly(try Self.http(second.port, "/", headers: ["Cookie: kith-watch-\(second.port)=\(key)"])))

        _ = try carol.cli(["send", "alice", "bring <b>cake</b> & <script>alert(1)</script>"], as: SendResult.self)
        try await alice.eventually("carol's message") { try alice.cli(["inbox"], as: InboxResult.self).unread["carol"] == 1 }
        let skipped = try await Self.browser(second.address, bob: bob)

        #expect(slow.readUntilClosed(timeout: 15), "a slow request is closed at the deadline")
        try await Task.sleep(for: .seconds(max(0, 16 - Date().timeIntervalSince(slowSince))))
        let streamed = String(decoding: stream.receive(timeout: 1), as: UTF8.self)
        #expect(streamed.contains("data: {") && streamed.contains("\r\n: keepalive\n\n"), "\(streamed)")
        withExtendedLifetime(server) {}
        if let skipped { try Test.cancel("the watch page in a browser: \(skipped)") }
    }

    /// A few connections per address, and a request of at most 16 KiB: the connection over either
    /// is closed unanswered, and the page answers again once they are gone.
    static func bounded(_ port: Int, cookie: String) async throws {
        var idle: [RawSocket] = []
        for _ in 0..<8 { idle.append(try RawSocket(port: port)) }
        try await Task.sleep(for: .milliseconds(200))
        #expect(try http(port, "/", headers: [cookie], timeout: 2).status == 0, "a ninth connection is closed")
        idle.removeAll()
        try await Task.sleep(for: .milliseconds(200))
        #expect(try http(port, "/", headers: [cookie]).status == 200)
        let huge = try http(port, "/", headers: [cookie] + (0..<200).map { "X-Filler-\($0): \(String(repeating: "x", count: 100))" })
        #expect(huge.status == 0, "a request over 16 KiB: \(huge.head)")
    }

    /// Tools/watch-page-check in headless Chromium, while bob writes; where Chromium, chromedriver
    /// or Selenium is missing, the check's reason to skip (the test is then cancelled, not failed).
    static func browser(_ address: String, bob: AgentHarness) async throws -> String? {
        let folder = temporaryDirectory("watch-page-browser")
        let screenshot = folder.appendingPathComponent("watch-page.png")
        let started = Date()
        let check = try KithProcess([address, "bob", screenshot.path], in: folder, name: "browser",
                                    executable: Repository.url("Tools/watch-page-check"))
        // Its SIGTERM quits the browser and the driver; the check ends on its own after "ok".
        defer { _ = check.terminate(timeout: 20) }
        /// The first line of the check's that starts with one of `prefixes`.
        func line(_ prefixes: [String]) async throws -> String {
            let deadline = Date().addingTimeInterval(60)
            while true {
                let exited = !check.process.isRunning
                if let found = check.stdout.split(separator: "\n").first(where: { line in prefixes.contains { line.hasPrefix($0) } }) {
                    return String(found)
                }
                if exited || Date() > deadline {
                    throw KithProcess.ProcessFailure(description: "no \(prefixes) from the browser check:\n\(check.stdout)\n\(check.stderr)")
                }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        let ready = try await line(["ready", "skip:", "fail:"])
        if ready.hasPrefix("skip:") { return ready }
        #expect(ready.hasPrefix("ready"), "\(ready)\n\(check.stderr)")
        _ = try bob.cli(["send", "alice", "dinner at eight?"], as: SendResult.self)
        let live = try await line(["live", "fail:"])
        #expect(live.hasPrefix("live"), "\(live)")
        let end = try await line(["ok", "fail:"])
        #expect(end == "ok", "\(check.stdout)\n\(check.stderr)")
        #expect(check.stdout.contains("messages dinner at eight?"), "\(check.stdout)")
        print("watch page: the browser check took \(Int(Date().timeIntervalSince(started) * 1000)) ms")
        if let keep = ProcessInfo.processInfo.environment["KITH_WATCH_SCREENSHOT"] {
            try? FileManager.default.removeItem(atPath: keep)
            try FileManager.default.copyItem(at: screenshot, to: URL(fileURLWithPath: keep))
        }
        return nil
    }
}
