/// What a browser sends the watcher's page, decoded (Protocol/local-api.md §The watch page): a
/// request target split into path and query, `name=value&…` pairs (a query, or a form body of
/// `application/x-www-form-urlencoded`), and the Cookie header. Every byte of it may come from a
/// hostile page or another local user, so each part is bounded and anything odd is refused, not
/// repaired: the page needs one or two short names, never more.
public enum PageForm {
    /// Limits on what the page ever needs; the server's byte cap per connection is above all of them.
    public enum Limits {
        /// The request target (`/messages?contact=…`): an account name is at most 64 bytes.
        public static let target = 2048
        /// A form body (`contact=…`).
        public static let body = 1024
        /// Pairs in one query or form.
        public static let pairs = 8
        /// Bytes of all Cookie headers together.
        public static let cookies = 4096
    }

    /// Why a part was refused (for tests and the log; the browser only ever sees 403).
    public struct Malformed: Error, Equatable, Sendable {
        public let reason: String
        public init(_ reason: String) { self.reason = reason }
    }

    /// `/path?query` (origin form, RFC 9112 §3.2.1) → the path, and the query when there is one.
    /// An absolute or authority form, a fragment, or a path that needs decoding is refused.
    public static func target(_ target: String) throws(Malformed) -> (path: String, query: String?) {
        let bytes = Array(target.utf8)
        guard bytes.count <= Limits.target else { throw Malformed("target over \(Limits.target) bytes") }
        guard bytes.first == UInt8(ascii: "/") else { throw Malformed("not an origin-form target") }
        guard bytes.allSatisfy({ $0 > 0x20 && $0 < 0x7f && $0 != UInt8(ascii: "#") }) else { throw Malformed("a byte a target never has") }
        let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let path = String(parts[0])
        guard !path.contains("%") else { throw Malformed("an encoded path") }
        return (path, parts.count == 2 ? String(parts[1]) : nil)
    }

    /// `a=1&b=x%20y` → `["a": "1", "b": "x y"]`. A name given twice, a pair without `=`, a bad
    /// or truncated `%` escape, bytes that are not UTF-8, and control characters are refused.
    public static func pairs(_ text: String, limit: Int = Limits.target) throws(Malformed) -> [String: String] {
        guard text.utf8.count <= limit else { throw Malformed("over \(limit) bytes") }
        var pairs: [String: String] = [:]
        if text.isEmpty { return pairs }
        let items = text.split(separator: "&", omittingEmptySubsequences: false)
        guard items.count <= Limits.pairs else { throw Malformed("more than \(Limits.pairs) pairs") }
        for item in items {
            let halves = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard halves.count == 2 else { throw Malformed("a pair without =") }
            let name = try unescape(halves[0]), value = try unescape(halves[1])
            guard !name.isEmpty else { throw Malformed("a pair without a name") }
            guard pairs[name] == nil else { throw Malformed("\(name) given twice") }
            pairs[name] = value
        }
        return pairs
    }

    /// The values of the cookie `name` in the Cookie headers (`a=1; b=2`, RFC 6265 §5.4); more
    /// than one when other pages of 127.0.0.1 set one of the same name (cookies ignore ports).
    public static func cookies(named name: String, in headers: [String]) throws(Malformed) -> [String] {
        guard headers.reduce(0, { $0 + $1.utf8.count }) <= Limits.cookies else { throw Malformed("cookies over \(Limits.cookies) bytes") }
        return headers.flatMap { $0.split(separator: ";") }.compactMap { pair in
            let halves = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard halves.count == 2, halves[0].trimmingSpaces == name else { return nil }
            return String(halves[1].trimmingSpaces)
        }
    }

    /// Percent-decoding with `+` as a space (the form encoding, WHATWG URL §5.1).
    static func unescape(_ text: Substring) throws(Malformed) -> String {
        var bytes: [UInt8] = []
        var input = text.utf8.makeIterator()
        while let byte = input.next() {
            switch byte {
            case UInt8(ascii: "+"): bytes.append(0x20)
            case UInt8(ascii: "%"):
                guard let high = input.next().flatMap(hexValue), let low = input.next().flatMap(hexValue) else {
                    throw Malformed("a bad or truncated % escape")
                }
                bytes.append(high << 4 | low)
            default: bytes.append(byte)
            }
        }
        guard let decoded = String(validating: bytes, as: UTF8.self) else { throw Malformed("not UTF-8") }
        guard !decoded.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) else {
            throw Malformed("a control character")
        }
        return decoded
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

extension Substring {
    /// Without leading and trailing spaces and tabs (cookie pairs, RFC 6265 §5.2).
    var trimmingSpaces: Substring {
        let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !blank($0) }), let last = lastIndex(where: { !blank($0) }) else { return "" }
        return self[first...last]
    }
}
