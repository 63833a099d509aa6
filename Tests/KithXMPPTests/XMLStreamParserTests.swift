import Testing
@testable import KithXMPP

/// The XML reader on good streams cut anywhere, and on what a hostile server sends: each gets its
/// typed error, and a too-large stanza is refused after its limit, not read to its end.
@Suite struct XMLStreamParserTests {
    static let header = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
        + "id='s1' from='kith.test' version='1.0' xml:lang='en'>"
    static let features = "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism>"
        + "<mechanism>PLAIN</mechanism></mechanisms></stream:features>"
    static let message = "<message from='bob@kith.test/x' type='chat' id='m1'><body>a &lt; b &amp; caf\u{e9} \u{1F600}</body></message>"

    func parse(_ text: String, limits: XMLStreamParser.Limits = .init()) throws(XMLStreamError) -> [XMLStreamParser.Event] {
        try XMLStreamParser(limits: limits).feed(Array(text.utf8))
    }

    @Test func aStreamGivesItsHeaderStanzasAndEnd() throws {
        let events = try parse(Self.header + Self.features + " " + Self.message + "</stream:stream>")
        #expect(events.count == 4)
        guard case .streamOpened(let root) = events[0], case .stanza(let features) = events[1],
              case .stanza(let message) = events[2] else { Issue.record("\(events)"); return }
        #expect(root["id"] == "s1" && root["xml:lang"] == "en")
        #expect(features.namespace == XMPPNamespace.stream && features.name == "features")
        #expect(features.child("mechanisms", namespace: XMPPNamespace.sasl)?.children("mechanism").map(\.text) == ["SCRAM-SHA-1", "PLAIN"])
        #expect(message.namespace == XMPPNamespace.client && message["from"] == "bob@kith.test/x")
        #expect(message.child("body")?.text == "a < b & caf\u{e9} \u{1F600}")
        #expect(events[3] == .streamClosed)
    }

    @Test func bytesCutAnywhereGiveTheSameEvents() throws {
        let bytes = Array((Self.header + Self.features + Self.message).utf8)
        let whole = try XMLStreamParser().feed(bytes)
        let parser = XMLStreamParser()
        var pieces: [XMLStreamParser.Event] = []
        for byte in bytes { pieces += try parser.feed([byte]) }
        #expect(pieces == whole)
        #expect(whole.count == 3)
    }

    @Test func serializedElementsReadBackEqual() throws {
        let sent = XMLElement("message", namespace: XMPPNamespace.client, attributes: ["to": "b@k.test", "id": "x'\"<&"],
                              children: [XMLElement("body", namespace: XMPPNamespace.client, text: "<&>'\"")])
        let events = try parse(Self.header + sent.serialized())
        #expect(events.last == .stanza(sent))
    }

    @Test func anEntityBombIsRefusedAtItsDocumentType() {
        var bomb = "<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'>"
        for i in 1...9 { bomb += "<!ENTITY lol\(i) '" + String(repeating: "&lol\(i == 1 ? "" : String(i - 1));", count: 10) + "'>" }
        bomb += "]><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>&lol9;"
        #expect(throws: XMLStreamError.restrictedXML("a document type declaration")) { try parse(bomb) }
    }

    @Test func commentsAndProcessingInstructionsAreRefused() {
        #expect(throws: XMLStreamError.restrictedXML("a comment")) { try parse(Self.header + "<!-- hi -->") }
        #expect(throws: XMLStreamError.restrictedXML("a processing instruction")) { try parse(Self.header + "<?foo bar?>") }
    }

    @Test func anUndefinedEntityIsMalformed() {
        #expect { try parse(Self.header + "<message><body>&ext;</body></message>") } throws: { error in
            guard case XMLStreamError.malformed(let reason) = error else { return false }
            return reason.contains("undefined entity")
        }
    }

    @Test func aHugeStanzaIsRefusedAfterTheLimitNotAtItsEnd() throws {
        let limit = 1 << 20
        let parser = XMLStreamParser()
        _ = try parser.feed(Array((Self.header + "<message><body>").utf8))
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 65536)
        var fed = 0
        var failure: XMLStreamError?
        // 100 MB offered; the parser must stop within the first MiB and some.
        while fed < 100_000_000 {
            do { _ = try parser.feed(chunk) } catch { failure = error; break }
            fed += chunk.count
        }
        #expect(failure == .stanzaTooLarge(limit: limit))
        #expect(fed <= limit)
        #expect(throws: XMLStreamError.stanzaTooLarge(limit: limit)) { try parser.feed(Array("</body>".utf8)) }
    }

    @Test func aHugeAttributeIsRefusedBeforeItsTagEnds() throws {
        let parser = XMLStreamParser(limits: .init(maxStanzaBytes: 4096))
        _ = try parser.feed(Array((Self.header + "<message id='").utf8))
        #expect(throws: XMLStreamError.stanzaTooLarge(limit: 4096)) {
            for _ in 0..<10 { _ = try parser.feed([UInt8](repeating: UInt8(ascii: "x"), count: 1000)) }
        }
    }

    @Test func keepalivesBetweenStanzasDoNotAddUp() throws {
        let parser = XMLStreamParser(limits: .init(maxStanzaBytes: 1024))
        _ = try parser.feed(Array(Self.header.utf8))
        for _ in 0..<100 {
            _ = try parser.feed(Array(" ".utf8))
            #expect(try parser.feed(Array("<presence/>".utf8)).count == 1)
            _ = try parser.feed([UInt8](repeating: UInt8(ascii: " "), count: 500))
        }
    }

    @Test func deepNestingIsRefused() {
        let deep = String(repeating: "<a>", count: 40)
        #expect(throws: XMLStreamError.tooDeep(limit: 32)) { try parse(Self.header + "<message>" + deep) }
    }

    @Test func tooManyElementsInOneStanzaAreRefused() {
        let many = "<iq>" + String(repeating: "<a/>", count: 200) + "</iq>"
        #expect(throws: XMLStreamError.stanzaTooLarge(limit: 1 << 20)) { try parse(Self.header + many, limits: .init(maxElements: 100)) }
    }

    @Test func somethingOtherThanAStreamIsRefused() {
        #expect(throws: XMLStreamError.notAStream("html")) { try parse("<html><body/></html>") }
        #expect(throws: XMLStreamError.notAStream("{jabber:client}stream")) { try parse("<stream xmlns='jabber:client'>") }
    }

    @Test func truncatedAndTamperedBytesAreMalformedOrWaitForMore() throws {
        // Truncated: nothing yet, no error (the rest may come); the connection's end says "closed".
        #expect(try parse(Self.header + "<message><bo") == [.streamOpened(XMLElement("stream", namespace: XMPPNamespace.stream,
            attributes: ["id": "s1", "from": "kith.test", "version": "1.0", "xml:lang": "en"]))])
        #expect(throws: XMLStreamError.self) { try parse(Self.header + "<message></body>") }
        #expect(throws: XMLStreamError.self) { try parse(Self.header + "<message>\u{0}</message>") }
        var invalid = Array(Self.header.utf8) + Array("<message><body>".utf8)
        invalid += [0xff, 0xfe]
        #expect(throws: XMLStreamError.self) { try XMLStreamParser().feed(invalid) }
    }

    @Test func bytesAfterTheEndAndAfterAnErrorAreRefused() throws {
        let parser = XMLStreamParser()
        _ = try parser.feed(Array((Self.header + "</stream:stream>").utf8))
        #expect(throws: XMLStreamError.afterStreamEnd) { try parser.feed(Array("<a/>".utf8)) }
        #expect(throws: XMLStreamError.afterStreamEnd) { try parser.feed(Array(" ".utf8)) }
    }
}
