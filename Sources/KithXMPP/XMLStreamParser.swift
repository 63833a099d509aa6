import CExpat

/// Why an XMPP server's bytes were refused. Each ends the stream: the agent closes the connection
/// and says which (RFC 6120 §4.9.3 names the stream errors a server would send for the same).
public enum XMLStreamError: Error, Equatable, Sendable {
    /// A DTD, an entity declaration, a comment or a processing instruction: XMPP forbids them
    /// (RFC 6120 §11.1), and a DTD is where entity-expansion bombs live.
    case restrictedXML(String)
    /// More than `Limits.maxStanzaBytes` between two stanza boundaries, or more elements in one stanza.
    case stanzaTooLarge(limit: Int)
    /// Elements nested deeper than `Limits.maxDepth` (the stream's root counts as 1).
    case tooDeep(limit: Int)
    /// The first element is not `<stream:stream>` of `http://etherx.jabber.org/streams`.
    case notAStream(String)
    /// Not well-formed XML (expat's reason, with where).
    case malformed(String)
    /// Bytes after `</stream:stream>`.
    case afterStreamEnd
}

/// An incremental reader of one XMPP stream over libexpat (Debian's libexpat1, the parser behind
/// Python's and most XMPP libraries' XML): bytes in as they arrive, whole stanzas out. Namespaces
/// are resolved by expat; a DTD, comment or processing instruction ends the stream before anything
/// is expanded; what one stanza may hold is bounded before expat buffers it (a 100 MB stanza is
/// refused after `maxStanzaBytes`, not read). A stream restart (after STARTTLS or SASL) takes a new
/// parser. Not thread-safe: one connection's event loop owns it.
public final class XMLStreamParser {
    public struct Limits: Sendable {
        /// Bytes from the end of one stanza (or the stream header) to the end of the next: what a
        /// stanza may take, whitespace keepalives between stanzas aside. A 1,000-contact roster is
        /// about 96 KB; Prosody's own limit for clients is 256 KiB.
        public var maxStanzaBytes: Int
        /// Nesting depth, the stream's root counting as 1.
        public var maxDepth: Int
        /// Elements in one stanza (a tree of tiny elements costs more memory than its bytes).
        public var maxElements: Int

        public init(maxStanzaBytes: Int = 1 << 20, maxDepth: Int = 32, maxElements: Int = 50_000) {
            self.maxStanzaBytes = maxStanzaBytes
            self.maxDepth = maxDepth
            self.maxElements = maxElements
        }
    }

    public enum Event: Equatable, Sendable {
        /// The stream's root opened: its attributes (`from`, `id`, `version`), no children.
        case streamOpened(XMLElement)
        /// A whole child of the root (a stanza, `<stream:features>`, a SASL answer, …).
        case stanza(XMLElement)
        case streamClosed
    }

    public let limits: Limits
    private let parser: XML_Parser
    private var open: [XMLElement] = []
    private var events: [Event] = []
    private var failure: XMLStreamError?
    private var closed = false
    private var fed: Int64 = 0
    /// Where the last stanza (or the stream header, or whitespace between stanzas) ended.
    private var boundary: Int64 = 0
    private var elementsInStanza = 0

    public init(limits: Limits = Limits()) {
        self.limits = limits
        parser = XML_ParserCreateNS("UTF-8", XML_Char(1))
        XML_SetUserData(parser, Unmanaged.passUnretained(self).toOpaque())
        XML_SetParamEntityParsing(parser, XML_PARAM_ENTITY_PARSING_NEVER)
        XML_SetElementHandler(parser, { user, name, attributes in
            XMLStreamParser.from(user).start(name!, attributes!)
        }, { user, _ in
            XMLStreamParser.from(user).end()
        })
        XML_SetCharacterDataHandler(parser) { user, bytes, count in
            XMLStreamParser.from(user).characters(bytes!, Int(count))
        }
        XML_SetStartDoctypeDeclHandler(parser) { user, _, _, _, _ in
            XMLStreamParser.from(user).refuse(.restrictedXML("a document type declaration"))
        }
        XML_SetEntityDeclHandler(parser) { user, _, _, _, _, _, _, _, _ in
            XMLStreamParser.from(user).refuse(.restrictedXML("an entity declaration"))
        }
        XML_SetCommentHandler(parser) { user, _ in
            XMLStreamParser.from(user).refuse(.restrictedXML("a comment"))
        }
        XML_SetProcessingInstructionHandler(parser) { user, _, _ in
            XMLStreamParser.from(user).refuse(.restrictedXML("a processing instruction"))
        }
    }

    deinit { XML_ParserFree(parser) }

    private static func from(_ user: UnsafeMutableRawPointer?) -> XMLStreamParser {
        Unmanaged<XMLStreamParser>.fromOpaque(user!).takeUnretainedValue()
    }

    /// Parses the next bytes of the stream: the events they completed, and the error that ended
    /// the stream if one did (the events before it in the same bytes still count). After an error
    /// every later call gives the same one.
    public func read(_ bytes: some Collection<UInt8>) -> (events: [Event], failure: XMLStreamError?) {
        defer { events.removeAll(keepingCapacity: true) }
        if let failure { return ([], failure) }
        guard !bytes.isEmpty else { return ([], nil) }
        if closed {
            failure = .afterStreamEnd
            return ([], failure)
        }
        // What expat would have to hold before the next boundary: refused before it reads it.
        if fed + Int64(bytes.count) - boundary > Int64(limits.maxStanzaBytes) {
            failure = .stanzaTooLarge(limit: limits.maxStanzaBytes)
            return ([], failure)
        }
        fed += Int64(bytes.count)
        let status: XML_Status = {
            if let done = bytes.withContiguousStorageIfAvailable({ parse($0) }) { return done }
            return Array(bytes).withUnsafeBufferPointer { parse($0) }
        }()
        if failure == nil, status == XML_STATUS_ERROR {
            let code = XML_GetErrorCode(parser)
            let reason = XML_ErrorString(code).map { String(cString: $0) } ?? "error \(code.rawValue)"
            failure = .malformed("\(reason) at line \(XML_GetCurrentLineNumber(parser)), column \(XML_GetCurrentColumnNumber(parser))")
        }
        return (events, failure)
    }

    /// `read`, for callers that drop the events before an error with it.
    public func feed(_ bytes: some Collection<UInt8>) throws(XMLStreamError) -> [Event] {
        let (events, failure) = read(bytes)
        if let failure { throw failure }
        return events
    }

    private func parse(_ buffer: UnsafeBufferPointer<UInt8>) -> XML_Status {
        buffer.withMemoryRebound(to: CChar.self) { XML_Parse(parser, $0.baseAddress, Int32($0.count), 0) }
    }

    private func refuse(_ error: XMLStreamError) {
        guard failure == nil else { return }
        failure = error
        XML_StopParser(parser, XML_FALSE)
    }

    private var here: Int64 { Int64(XML_GetCurrentByteIndex(parser)) + Int64(XML_GetCurrentByteCount(parser)) }

    private func start(_ qualified: UnsafePointer<XML_Char>, _ attributes: UnsafeMutablePointer<UnsafePointer<XML_Char>?>) {
        guard failure == nil else { return }
        guard open.count < limits.maxDepth else { return refuse(.tooDeep(limit: limits.maxDepth)) }
        if open.count >= 1 {
            elementsInStanza += 1
            guard elementsInStanza <= limits.maxElements else { return refuse(.stanzaTooLarge(limit: limits.maxStanzaBytes)) }
        }
        let (namespace, name) = Self.split(qualified)
        var element = XMLElement(name, namespace: namespace)
        var i = 0
        while let key = attributes[i], let value = attributes[i + 1] {
            let (ns, local) = Self.split(key)
            let attribute = ns.isEmpty ? local : ns == XMPPNamespace.xml ? "xml:" + local : ns + ":" + local
            element.attributes[attribute] = String(cString: value)
            i += 2
        }
        if open.isEmpty {
            guard namespace == XMPPNamespace.stream, name == "stream" else {
                return refuse(.notAStream(namespace.isEmpty ? name : "{\(namespace)}\(name)"))
            }
            boundary = here
            events.append(.streamOpened(element))
        }
        open.append(element)
    }

    private func end() {
        guard failure == nil, let element = open.popLast() else { return }
        switch open.count {
        case 0:
            closed = true
            events.append(.streamClosed)
        case 1:
            boundary = here
            elementsInStanza = 0
            events.append(.stanza(element))
        default:
            open[open.count - 1].children.append(element)
        }
    }

    private func characters(_ bytes: UnsafePointer<XML_Char>, _ count: Int) {
        guard failure == nil, open.count > 1 else {
            // Whitespace between stanzas (keepalives) is a boundary too.
            if failure == nil { boundary = here }
            return
        }
        let text = bytes.withMemoryRebound(to: UInt8.self, capacity: count) {
            String(decoding: UnsafeBufferPointer(start: $0, count: count), as: UTF8.self)
        }
        open[open.count - 1].text += text
    }

    /// expat's "URI\u{1}local" (or just "local") as (namespace, local name).
    private static func split(_ qualified: UnsafePointer<XML_Char>) -> (String, String) {
        let whole = String(cString: qualified)
        guard let cut = whole.firstIndex(of: "\u{1}") else { return ("", whole) }
        return (String(whole[..<cut]), String(whole[whole.index(after: cut)...]))
    }
}
