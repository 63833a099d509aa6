import FuzzSupport
import KithXMPP

/// What an XMPP server sends a Kith agent, in pieces of a size the first byte chooses: the
/// parser and the session's decisions take any bytes without crashing, and the parser never
/// hands out a stanza deeper or larger than its limits allow.
@_cdecl("FuzzXMPP_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzOne)
}

let limits = XMLStreamParser.Limits(maxStanzaBytes: 2048, maxDepth: 8, maxElements: 64)
let account = try! JID(parsing: "alice@kith.test")

func depth(_ element: XMLElement) -> Int { 1 + (element.children.map(depth).max() ?? 0) }
func count(_ element: XMLElement) -> Int { 1 + element.children.map(count).reduce(0, +) }

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = fuzzInput(data, size)
    guard let first = input.first else { return 0 }
    let piece = Int(first % 64) + 1
    var parser = XMLStreamParser(limits: limits)
    var session = XMPPSession(.init(account: account, password: "pw", rosterVersion: "", canStartTLS: true, isLoopback: true,
                                    clientNonce: "fyko+d2lbbFgONRv9qkxdawL"))
    _ = session.connected()
    var askedArchive = false
    var rest = input.dropFirst()
    while !rest.isEmpty {
        let (events, failure) = parser.read(rest.prefix(piece))
        rest = rest.dropFirst(piece)
        for event in events {
            if case .stanza(let element) = event {
                precondition(depth(element) <= limits.maxDepth - 1, "a stanza deeper than the limit")
                precondition(count(element) <= limits.maxElements + 1, "a stanza with more elements than the limit")
            }
            for action in session.receive(event) where action == .restartParser {
                parser = XMLStreamParser(limits: limits)
            }
            // Once logged in, an archive query is open (its id is "k1"), so archive results and
            // their page ends are reachable.
            if session.isReady, !askedArchive {
                askedArchive = true
                _ = session.archiveQuery(after: nil, start: nil)
            }
        }
        if let failure {
            _ = session.parseFailed(failure)
            break
        }
    }
    _ = session.closed()
    return 0
}
