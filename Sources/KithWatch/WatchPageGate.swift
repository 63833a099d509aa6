/// Who gets what from the watcher's page (Protocol/local-api.md §The watch page): one decision
/// per request, made before the agent is asked anything. The page listens on 127.0.0.1, where
/// every local user and every page a browser opens can reach it; only a holder of the page key
/// (in the address `kith watch --web` printed, then in a cookie) gets an answer other than 403.
/// Host must name the page exactly (a DNS-rebinding page's name never does), and an Origin, when
/// sent, must be the page's own (a foreign page's request carries its own origin); writing
/// (`POST /read`) needs that Origin present. No CORS header is ever sent, so no other origin may
/// read an answer.
public struct WatchPageGate: Sendable {
    /// 64 hex digits: 32 random bytes, fresh for each page start.
    public let key: String
    public let port: Int
    /// The contacts the page shows: the only ones it answers about.
    public let watched: [String]

    public init(key: String, port: Int, watched: [String]) {
        (self.key, self.port, self.watched) = (key, port, watched)
    }

    public enum Route: Equatable, Sendable {
        /// `GET /`: the page.
        case page
        /// `GET /events`: server-sent events, a `watch` result per change.
        case events
        /// `GET /messages?contact=X`: X's newest messages.
        case messages(contact: String)
        /// `POST /read` with `contact=X`: all of X's messages viewed.
        case read(contact: String)
    }

    public enum Decision: Equatable, Sendable {
        /// 403 with no body: no key, no cookie, a wrong Host or Origin, or a malformed request.
        case refuse(reason: String)
        /// The key in the address: set the cookie, and redirect to `/` without the key.
        case enter
        /// With the cookie: a path, method or contact the page does not have (404).
        case notFound
        case serve(Route)
    }

    /// One request as the decoder saw it; header names in any case.
    public struct Request: Sendable {
        public var method: String
        public var target: String
        public var headers: [(name: String, value: String)]
        public var body: [UInt8]

        public init(method: String, target: String, headers: [(name: String, value: String)], body: [UInt8] = []) {
            (self.method, self.target, self.headers, self.body) = (method, target, headers, body)
        }

        func values(_ name: String) -> [String] {
            headers.filter { $0.name.lowercased() == name }.map(\.value)
        }
    }

    /// The cookie's name: per port, because cookies ignore ports and two pages (two accounts)
    /// may be open at once.
    public var cookieName: String { "kith-watch-\(port)" }
    public var origin: String { "http://127.0.0.1:\(port)" }
    public var address: String { "\(origin)/?key=\(key)" }
    /// The Set-Cookie value of `enter`: not readable by scripts, never sent by another site's request.
    public var setCookie: String { "\(cookieName)=\(key); HttpOnly; SameSite=Strict; Path=/" }

    public func decide(_ request: Request) -> Decision {
        let hosts = request.values("host"), origins = request.values("origin")
        guard hosts == ["127.0.0.1:\(port)"] else { return .refuse(reason: "Host is not 127.0.0.1:\(port)") }
        guard origins.count <= 1, origins.allSatisfy({ $0 == origin }) else { return .refuse(reason: "a foreign Origin") }
        guard request.body.count <= PageForm.Limits.body else { return .refuse(reason: "a body over \(PageForm.Limits.body) bytes") }
        let path: String, query: [String: String]
        do {
            let target = try PageForm.target(request.target)
            (path, query) = (target.path, try PageForm.pairs(target.query ?? ""))
            if request.method == "GET", path == "/", let offered = query["key"] {
                return Self.same(offered, key) ? .enter : .refuse(reason: "a wrong key")
            }
            guard try PageForm.cookies(named: cookieName, in: request.values("cookie")).contains(where: { Self.same($0, key) }) else {
                return .refuse(reason: "no key and no cookie")
            }
        } catch {
            return .refuse(reason: error.reason)
        }
        switch (request.method, path) {
        case ("GET", "/"): return .serve(.page)
        case ("GET", "/events"): return .serve(.events)
        case ("GET", "/messages"): return query["contact"].flatMap(watchedContact).map { .serve(.messages(contact: $0)) } ?? .notFound
        case ("POST", "/read"):
            guard origins == [origin] else { return .refuse(reason: "a write without the page's Origin") }
            let form = try? PageForm.pairs(String(decoding: request.body, as: UTF8.self), limit: PageForm.Limits.body)
            return form?["contact"].flatMap(watchedContact).map { .serve(.read(contact: $0)) } ?? .notFound
        default: return .notFound
        }
    }

    private func watchedContact(_ name: String) -> String? {
        watched.contains(name) ? name : nil
    }

    /// Compared in time that does not depend on where the first difference is.
    static func same(_ offered: String, _ key: String) -> Bool {
        let a = Array(offered.utf8), b = Array(key.utf8)
        guard a.count == b.count else { return false }
        return zip(a, b).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
