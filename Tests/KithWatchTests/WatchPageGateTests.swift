@testable import KithWatch
import Testing

/// The watch page's decoding and access decisions without a socket: who gets 403, who gets in,
/// and what truncated, oversized and hostile requests come to.
@Suite struct WatchPageGateTests {
    static let key = String(repeating: "ab", count: 32)
    static let gate = WatchPageGate(key: key, port: 4711, watched: ["bob", "carol o'neil"])
    static let host = ("Host", "127.0.0.1:4711")
    static let cookie = ("Cookie", "kith-watch-4711=\(key)")
    static let origin = ("Origin", "http://127.0.0.1:4711")

    static func decide(_ target: String, _ headers: [(String, String)] = [host, cookie], method: String = "GET",
                       body: String = "") -> WatchPageGate.Decision {
        gate.decide(.init(method: method, target: target, headers: headers.map { (name: $0.0, value: $0.1) }, body: Array(body.utf8)))
    }

    static func refused(_ decision: WatchPageGate.Decision) -> Bool {
        if case .refuse = decision { return true }
        return false
    }

    @Test func theKeyInTheAddressSetsTheCookie() {
        #expect(Self.decide("/?key=\(Self.key)", [Self.host]) == .enter)
        #expect(Self.gate.setCookie == "kith-watch-4711=\(Self.key); HttpOnly; SameSite=Strict; Path=/")
        #expect(Self.gate.address == "http://127.0.0.1:4711/?key=\(Self.key)")
        #expect(Self.refused(Self.decide("/?key=\(String(repeating: "ab", count: 31))ac", [Self.host])), "a wrong key")
        #expect(Self.refused(Self.decide("/?key=", [Self.host])))
        #expect(Self.refused(Self.decide("/?key=\(Self.key)&key=\(Self.key)", [Self.host])), "a name given twice")
        #expect(Self.refused(Self.decide("/events?key=\(Self.key)", [Self.host])), "the key opens only the page's address")
    }

    @Test func withoutKeyOrCookieEverythingIs403() {
        for target in ["/", "/events", "/messages?contact=bob", "/nowhere", "/favicon.ico"] {
            #expect(Self.refused(Self.decide(target, [Self.host])), "\(target)")
        }
        #expect(Self.refused(Self.decide("/read", [Self.host, Self.origin], method: "POST", body: "contact=bob")))
        #expect(Self.refused(Self.decide("/", [Self.host, ("Cookie", "kith-watch-4712=\(Self.key)")])), "another page's cookie")
        #expect(Self.refused(Self.decide("/", [Self.host, ("Cookie", "kith-watch-4711=\(Self.key.uppercased())")])))
        #expect(Self.decide("/", [Self.host, ("Cookie", "kith-watch-4711=stale; other=1; kith-watch-4711=\(Self.key)")]) == .serve(.page),
                "a cookie of the same name from another port's page does not shut the right one out")
    }

    @Test func hostMustBeThePageExactly() {
        for host in ["localhost:4711", "127.0.0.1", "127.0.0.1:4712", "evil.example:4711", "127.0.0.1:4711 ", ""] {
            #expect(Self.refused(Self.decide("/", [("Host", host), Self.cookie])), "\(host)")
        }
        #expect(Self.refused(Self.decide("/", [Self.cookie])), "no Host")
        #expect(Self.refused(Self.decide("/", [Self.host, Self.host, Self.cookie])), "two Hosts")
        #expect(Self.decide("/", [("host", "127.0.0.1:4711"), ("COOKIE", Self.cookie.1)]) == .serve(.page), "header names in any case")
    }

    @Test func aForeignOriginGetsNothing() {
        for origin in ["http://evil.example", "null", "http://localhost:4711", "https://127.0.0.1:4711", "http://127.0.0.1:4711/"] {
            #expect(Self.refused(Self.decide("/events", [Self.host, Self.cookie, ("Origin", origin)])), "\(origin)")
            #expect(Self.refused(Self.decide("/read", [Self.host, Self.cookie, ("Origin", origin)], method: "POST", body: "contact=bob")))
        }
        #expect(Self.refused(Self.decide("/", [Self.host, Self.cookie, Self.origin, Self.origin])), "two Origins")
        #expect(Self.decide("/events", [Self.host, Self.cookie, Self.origin]) == .serve(.events))
    }

    @Test func routes() {
        #expect(Self.decide("/") == .serve(.page))
        #expect(Self.decide("/events") == .serve(.events))
        #expect(Self.decide("/messages?contact=bob") == .serve(.messages(contact: "bob")))
        #expect(Self.decide("/messages?contact=carol+o%27neil") == .serve(.messages(contact: "carol o'neil")))
        #expect(Self.decide("/messages?contact=dave") == .notFound, "only watched contacts")
        #expect(Self.decide("/messages") == .notFound)
        #expect(Self.decide("/read", [Self.host, Self.cookie, Self.origin], method: "POST", body: "contact=bob")
                == .serve(.read(contact: "bob")))
        #expect(Self.refused(Self.decide("/read", [Self.host, Self.cookie], method: "POST", body: "contact=bob")),
                "a write needs the page's Origin")
        #expect(Self.decide("/read", [Self.host, Self.cookie, Self.origin], method: "POST", body: "contact=dave") == .notFound)
        #expect(Self.decide("/read") == .notFound)
        #expect(Self.decide("/", method: "DELETE") == .notFound)
        #expect(Self.decide("/%65vents") == .refuse(reason: "an encoded path"))
    }

    @Test func truncatedOversizedAndHostileInput() {
        // Truncated escapes and pairs.
        for text in ["contact=%", "contact=%4", "contact=b%g0b", "contact", "=bob", "contact=bob&"] {
            #expect(throws: PageForm.Malformed.self, "\(text)") { try PageForm.pairs(text) }
        }
        // Hostile bytes: NUL, newlines, invalid UTF-8, too many pairs.
        for text in ["contact=bob%00", "contact=bob%0d%0aSet-Cookie:x", "contact=%ff%fe", "contact=%c3",
                     (0...8).map { "a\($0)=1" }.joined(separator: "&")] {
            #expect(throws: PageForm.Malformed.self, "\(text)") { try PageForm.pairs(text) }
        }
        let decoded = try? PageForm.pairs("contact=%3Cscript%3E%F0%9F%98%80+x")
        #expect(decoded == ["contact": "<script>😀 x"], "escapes decode to exactly the text; the page shows it as text")
        // Oversized: target, query, body, cookies.
        let long = String(repeating: "a", count: PageForm.Limits.target)
        #expect(Self.refused(Self.decide("/messages?contact=\(long)")))
        #expect(Self.refused(Self.decide("/read", [Self.host, Self.cookie, Self.origin], method: "POST",
                                         body: "contact=" + String(repeating: "b", count: PageForm.Limits.body))))
        #expect(Self.refused(Self.decide("/", [Self.host, ("Cookie", String(repeating: "x=1; ", count: 1000) + Self.cookie.1)])))
        // Targets no browser sends.
        for target in ["", "*", "http://127.0.0.1:4711/", "/a b", "/#x", "/\u{7f}", "/é"] {
            #expect(throws: PageForm.Malformed.self, "\(target)") { try PageForm.target(target) }
        }
        #expect(Self.refused(Self.decide("http://127.0.0.1:4711/?key=\(Self.key)", [Self.host])))
    }

    @Test func everyPrefixOfAGoodRequestIsDecidedWithoutACrash() {
        let query = "/messages?contact=carol+o%27neil"
        for end in query.indices {
            #expect(Self.decide(String(query[..<end])) != .serve(.messages(contact: "carol o'neil")))
        }
        let form = "contact=carol+o%27neil"
        for end in form.indices {
            _ = try? PageForm.pairs(String(form[..<end]))
        }
        let cookie = Self.cookie.1
        for end in cookie.indices {
            #expect(Self.refused(Self.decide("/", [Self.host, ("Cookie", String(cookie[..<end]))])))
        }
    }
}
