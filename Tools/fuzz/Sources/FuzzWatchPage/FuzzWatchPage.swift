import FuzzSupport
import KithWatch

/// What a browser (or anything on 127.0.0.1) sends the watch page: `METHOD TARGET`, header lines
/// and, after an empty line, a body. Whatever it is, the gate decides without crashing, and lets
/// nothing through without the exact Host and the page key (in the target or a cookie).
@_cdecl("FuzzWatchPage_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzOne)
}

let key = String(repeating: "5a", count: 32)
let gate = WatchPageGate(key: key, port: 4711, watched: ["bob", "carol"])

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: fuzzInput(data, size), as: UTF8.self)
    let halves = text.split(separator: "\n\n", maxSplits: 1, omittingEmptySubsequences: false)
    let lines = halves[0].split(separator: "\n", omittingEmptySubsequences: false)
    let start = lines[0].split(separator: " ", maxSplits: 1)
    let headers = lines.dropFirst().map { line in
        let pair = line.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        return (name: String(pair[0]), value: String(pair.count == 2 ? pair[1].drop { $0 == " " } : ""))
    }
    let request = WatchPageGate.Request(method: String(start.first ?? ""), target: String(start.count == 2 ? start[1] : ""),
                                        headers: headers, body: Array(halves.count == 2 ? String(halves[1]).utf8 : "".utf8))
    if case .refuse = gate.decide(request) {} else {
        precondition(headers.filter { $0.name.lowercased() == "host" }.map(\.value) == ["127.0.0.1:4711"], "in without the Host")
        precondition(text.contains(key), "in without the key")
    }
    _ = try? PageForm.pairs(text)
    _ = try? PageForm.target(text)
    _ = try? PageForm.cookies(named: gate.cookieName, in: [text])
    return 0
}
