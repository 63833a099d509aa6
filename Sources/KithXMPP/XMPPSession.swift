import Foundation

/// Why an XMPP session ended. Every one closes the connection.
public enum XMPPError: Error, Equatable, Sendable {
    case xml(XMLStreamError)
    case scram(SCRAMError)
    /// The server sent `<stream:error>` with this condition.
    case streamError(String)
    /// SASL `<failure>` with this condition (`not-authorized`: a wrong password).
    case authenticationFailed(String)
    /// The server offers none of the mechanisms this client will use on this connection.
    case noUsableMechanism([String])
    /// Off loopback, a server must offer STARTTLS (and this build must be able to do it).
    case tlsUnavailable
    /// The TLS handshake failed: the certificate is not trusted by this system for the account's
    /// domain, or the handshake itself broke. The text is the TLS library's.
    case tlsFailed(String)
    /// The server's certificate is not the one pinned for this account; `presented` is its fingerprint.
    case certificateMismatch(presented: CertificateFingerprint)
    case bindFailed(String)
    /// A stanza this phase cannot take (a `<message>` before login, a second stream header, …).
    case unexpected(String)
    /// The server closed the stream or the connection.
    case closed
    /// The login did not finish in time.
    case timedOut
}

/// What came in on a logged-in session, for the agent to act on.
public enum XMPPIncoming: Equatable, Sendable {
    /// A roster push (RFC 6121 §2.1.6) from the account's own server: one item changed or was removed.
    case rosterPush(XMPPRosterItem, version: String?)
    /// A `<message>` with a body. `id` is the sender's; `archiveID` the server's stanza id, when it stamps one.
    case message(from: JID, body: String, id: String?, archiveID: String?)
    /// Presence of a contact's resource: `available` false for `unavailable`; `show` as sent (away, dnd, xa, chat).
    case presence(from: JID, available: Bool, show: String?)
    /// Someone asks to see our presence (RFC 6121 §3.1.3): waits for the user's answer.
    case subscriptionRequest(from: JID)
    /// A contact answered our request (`subscribed`) or withdrew (`unsubscribed`).
    case subscriptionAnswer(from: JID, granted: Bool)
    /// The answer to an `iq` this client sent after login (a roster set, say).
    case iqAnswer(id: String, ok: Bool)
    /// A message from the account's archive, answering `archiveQuery`.
    case archived(XMPPArchivedMessage)
    /// The end of a page of `archiveQuery`.
    case archivePage(XMPPArchivePage)
}

/// What the connection must do next, in order.
public enum XMPPAction: Equatable, Sendable {
    case send(String)
    /// Start TLS on the connection now (the server said `<proceed/>`), then report `.tlsEstablished`.
    case startTLS
    /// The next bytes belong to a new stream: use a new `XMLStreamParser` from here on.
    case restartParser
    /// Bound: the full JID the server gave this session.
    case loggedIn(JID)
    /// The login's roster answer; after it the session is ready to send and receive.
    case roster(XMPPRosterAnswer)
    case incoming(XMPPIncoming)
    /// Close the connection (after any `.send` before it).
    case fail(XMPPError)
}

/// One client connection's decisions (RFC 6120 stream negotiation, RFC 6121 roster and presence),
/// with no sockets: the shell feeds it parser events and carries out its actions. Stream set-up,
/// STARTTLS when offered and possible, SASL SCRAM-SHA-1 (PLAIN only over TLS or loopback),
/// resource binding, the versioned roster request, initial presence; then stanzas in and out.
public struct XMPPSession: Sendable {
    public struct Settings: Sendable {
        public var account: JID
        public var password: String
        public var resource: String
        /// The last roster version this account stored (`""`: none yet, ask for a version).
        public var rosterVersion: String?
        /// The shell can run TLS on this connection.
        public var canStartTLS: Bool
        /// The server is on loopback: plaintext and PLAIN are tolerated (tests, a local bridge).
        public var isLoopback: Bool
        public var clientNonce: String

        public init(account: JID, password: String, resource: String = "kith", rosterVersion: String? = "",
                    canStartTLS: Bool, isLoopback: Bool, clientNonce: String = SCRAMClient.randomNonce()) {
            self.account = account.bare
            self.password = password
            self.resource = resource
            self.rosterVersion = rosterVersion
            self.canStartTLS = canStartTLS
            self.isLoopback = isLoopback
            self.clientNonce = clientNonce
        }
    }

    enum Phase: Equatable {
        case idle, awaitingHeader, awaitingFeatures, awaitingProceed, awaitingChallenge, awaitingSuccess
        case awaitingBind, awaitingSession, awaitingRoster, ready, ended
    }

    public let settings: Settings
    private(set) var phase = Phase.idle
    private var encrypted = false
    private var authenticated = false
    private var scram: SCRAMClient?
    private var nextID = 0
    public private(set) var boundJID: JID?

    public init(_ settings: Settings) { self.settings = settings }

    public var isReady: Bool { phase == .ready }

    /// The connection is open: say hello.
    public mutating func connected() -> [XMPPAction] {
        phase = .awaitingHeader
        return [.send(streamHeader)]
    }

    /// TLS is up after `.startTLS`: a new stream over it (RFC 6120 §5.4.3.3).
    public mutating func tlsEstablished() -> [XMPPAction] {
        encrypted = true
        phase = .awaitingHeader
        return [.restartParser, .send(streamHeader)]
    }

    public mutating func closed() -> [XMPPAction] {
        guard phase != .ended else { return [] }
        return end(.closed)
    }

    public mutating func receive(_ event: XMLStreamParser.Event) -> [XMPPAction] {
        switch event {
        case .streamOpened:
            guard phase == .awaitingHeader else { return end(.unexpected("a second stream header")) }
            phase = .awaitingFeatures
            return []
        case .streamClosed:
            return end(.closed)
        case .stanza(let element):
            if element.namespace == XMPPNamespace.stream, element.name == "error" {
                let condition = element.children.first { $0.namespace == XMPPNamespace.streams }?.name ?? "undefined-condition"
                return end(.streamError(condition))
            }
            return receive(element)
        }
    }

    /// The parser gave up on the server's bytes.
    public mutating func parseFailed(_ error: XMLStreamError) -> [XMPPAction] {
        end(.xml(error))
    }

    private mutating func receive(_ element: XMLElement) -> [XMPPAction] {
        switch phase {
        case .awaitingFeatures:
            guard element.namespace == XMPPNamespace.stream, element.name == "features" else {
                return end(.unexpected("<\(element.name)> before the stream's features"))
            }
            return authenticated ? bind(element) : negotiate(element)
        case .awaitingProceed:
            guard element.namespace == XMPPNamespace.tls, element.name == "proceed" else {
                return end(.tlsUnavailable)
            }
            return [.startTLS]
        case .awaitingChallenge, .awaitingSuccess:
            return authenticate(element)
        case .awaitingBind:
            guard element.name == "iq", element["id"] == "bind" else { return end(.unexpected("<\(element.name)> while binding")) }
            guard element["type"] == "result", let text = element.child("bind", namespace: XMPPNamespace.bind)?.child("jid")?.text,
                  let jid = try? JID(parsing: text), jid.bare == settings.account
            else { return end(.bindFailed(Self.errorCondition(element) ?? "no usable jid")) }
            boundJID = jid
            return [.loggedIn(jid)] + (needsSession ? startSession() : requestRoster())
        case .awaitingSession:
            guard element.name == "iq", element["id"] == "session" else { return end(.unexpected("<\(element.name)> while starting the session")) }
            guard element["type"] == "result" else { return end(.bindFailed(Self.errorCondition(element) ?? "session refused")) }
            return requestRoster()
        case .awaitingRoster:
            guard element.name == "iq", element["id"] == "roster" else { return ready(element) }
            guard element["type"] == "result" else { return end(.unexpected("roster request refused: \(Self.errorCondition(element) ?? "")")) }
            phase = .ready
            let answer: XMPPRosterAnswer
            if let query = element.child("query", namespace: XMPPNamespace.roster) {
                answer = .full(query.children("item").compactMap(XMPPRosterItem.init), version: query["ver"])
            } else {
                answer = .unchanged
            }
            return [.roster(answer), .send(XMLElement("presence", namespace: XMPPNamespace.client).serialized())]
        case .ready:
            return ready(element)
        case .idle, .awaitingHeader, .ended:
            return end(.unexpected("<\(element.name)> outside a stream"))
        }
    }

    // MARK: Negotiation

    private var needsSession = false

    private mutating func negotiate(_ features: XMLElement) -> [XMPPAction] {
        if !encrypted, features.child("starttls", namespace: XMPPNamespace.tls) != nil, settings.canStartTLS {
            phase = .awaitingProceed
            return [.send("<starttls xmlns='\(XMPPNamespace.tls)'/>")]
        }
        guard encrypted || settings.isLoopback else { return end(.tlsUnavailable) }
        let offered = features.child("mechanisms", namespace: XMPPNamespace.sasl)?.children("mechanism").map(\.text) ?? []
        if offered.contains(SCRAMClient.mechanism) {
            let client = SCRAMClient(username: settings.account.local, password: settings.password,
                                     clientNonce: settings.clientNonce)
            scram = client
            phase = .awaitingChallenge
            return [.send(saslElement("auth", Data(client.clientFirst.utf8), mechanism: SCRAMClient.mechanism))]
        }
        if offered.contains("PLAIN") {
            // PLAIN sends the password itself: only inside TLS or to this machine.
            phase = .awaitingSuccess
            let message = Data(("\u{0}" + settings.account.local + "\u{0}" + settings.password).utf8)
            return [.send(saslElement("auth", message, mechanism: "PLAIN"))]
        }
        return end(.noUsableMechanism(offered))
    }

    private mutating func authenticate(_ element: XMLElement) -> [XMPPAction] {
        guard element.namespace == XMPPNamespace.sasl else { return end(.unexpected("<\(element.name)> during authentication")) }
        switch element.name {
        case "challenge" where phase == .awaitingChallenge:
            guard var client = scram, let data = Data(base64Encoded: element.text.trimmingCharacters(in: .whitespaces)),
                  let text = String(data: data, encoding: .utf8)
            else { return [.send(abort)] + end(.scram(.malformedChallenge(element.text))) }
            do {
                let response = try client.respond(to: text)
                scram = client
                phase = .awaitingSuccess
                return [.send(saslElement("response", Data(response.utf8)))]
            } catch {
                return [.send(abort)] + end(.scram(error))
            }
        case "success" where phase == .awaitingSuccess:
            if let client = scram {
                // The server's signature comes in <success> (RFC 6120 §6.4.6); without it, it proved nothing.
                guard let data = Data(base64Encoded: element.text.trimmingCharacters(in: .whitespaces)),
                      let text = String(data: data, encoding: .utf8)
                else { return end(.scram(.serverNotAuthenticated)) }
                do { try client.verify(serverFinal: text) } catch { return end(.scram(error)) }
            }
            authenticated = true
            scram = nil
            phase = .awaitingHeader
            return [.restartParser, .send(streamHeader)]
        case "failure":
            return end(.authenticationFailed(element.children.first?.name ?? "failure"))
        default:
            return end(.unexpected("SASL <\(element.name)> now"))
        }
    }

    private mutating func bind(_ features: XMLElement) -> [XMPPAction] {
        guard features.child("bind", namespace: XMPPNamespace.bind) != nil else { return end(.bindFailed("no binding offered")) }
        if let session = features.child("session", namespace: XMPPNamespace.session) {
            needsSession = session.child("optional") == nil
        }
        rosterVersioning = features.child("ver", namespace: XMPPNamespace.rosterVersioning) != nil
        phase = .awaitingBind
        let resource = XMLElement("resource", namespace: XMPPNamespace.bind, text: settings.resource)
        let request = XMLElement("iq", namespace: XMPPNamespace.client, attributes: ["type": "set", "id": "bind"],
                                 children: [XMLElement("bind", namespace: XMPPNamespace.bind, children: [resource])])
        return [.send(request.serialized())]
    }

    private var rosterVersioning = false

    private mutating func startSession() -> [XMPPAction] {
        phase = .awaitingSession
        let request = XMLElement("iq", namespace: XMPPNamespace.client, attributes: ["type": "set", "id": "session"],
                                 children: [XMLElement("session", namespace: XMPPNamespace.session)])
        return [.send(request.serialized())]
    }

    private mutating func requestRoster() -> [XMPPAction] {
        phase = .awaitingRoster
        var query = XMLElement("query", namespace: XMPPNamespace.roster)
        if rosterVersioning, let version = settings.rosterVersion { query.attributes["ver"] = version }
        let request = XMLElement("iq", namespace: XMPPNamespace.client, attributes: ["type": "get", "id": "roster"], children: [query])
        return [.send(request.serialized())]
    }

    // MARK: Logged in

    private mutating func ready(_ element: XMLElement) -> [XMPPAction] {
        guard element.namespace == XMPPNamespace.client else { return [] }
        let from = element["from"].flatMap { try? JID(parsing: $0) }
        switch element.name {
        case "iq":
            return iq(element, from: from)
        case "message":
            if let result = element.child("result", namespace: XMPPNamespace.archive) {
                // Only the account's own archive answers, and only a query of ours.
                guard from == nil || from == settings.account, let query = result["queryid"], archiveQueries.contains(query),
                      let message = Self.archived(result) else { return [] }
                return [.incoming(.archived(message))]
            }
            guard let from, element["type"] != "error", let body = element.child("body")?.text, !body.isEmpty else { return [] }
            let archiveID = element.children.first {
                $0.name == "stanza-id" && $0.namespace == "urn:xmpp:sid:0" && $0["by"].flatMap({ try? JID(parsing: $0) }) == settings.account
            }?["id"]
            return [.incoming(.message(from: from, body: body, id: element["id"], archiveID: archiveID))]
        case "presence":
            guard let from else { return [] }
            switch element["type"] {
            case nil: return [.incoming(.presence(from: from, available: true, show: element.child("show")?.text))]
            case "unavailable": return [.incoming(.presence(from: from, available: false, show: nil))]
            case "subscribe": return [.incoming(.subscriptionRequest(from: from.bare))]
            case "subscribed": return [.incoming(.subscriptionAnswer(from: from.bare, granted: true))]
            case "unsubscribed": return [.incoming(.subscriptionAnswer(from: from.bare, granted: false))]
            default: return []
            }
        default:
            return []
        }
    }

    private mutating func iq(_ element: XMLElement, from: JID?) -> [XMPPAction] {
        guard let id = element["id"] else { return [] }
        switch element["type"] {
        case "result", "error":
            if archiveQueries.remove(id) != nil {
                let fin = element.child("fin", namespace: XMPPNamespace.archive)
                return [.incoming(.archivePage(XMPPArchivePage(
                    queryID: id, ok: element["type"] == "result" && fin != nil, complete: fin?["complete"] == "true",
                    last: fin?.child("set", namespace: XMPPNamespace.resultSet)?.child("last")?.text)))]
            }
            return [.incoming(.iqAnswer(id: id, ok: element["type"] == "result"))]
        case "set" where element.child("query", namespace: XMPPNamespace.roster) != nil:
            // Only the account's own server may push the roster (RFC 6121 §2.1.6): from absent or our bare JID.
            guard from == nil || from == settings.account else {
                return [.send(Self.errorReply(to: element, condition: "service-unavailable", type: "cancel"))]
            }
            let query = element.child("query", namespace: XMPPNamespace.roster)!
            let items = query.children("item").compactMap(XMPPRosterItem.init)
            guard items.count == 1 else { return [.send(Self.errorReply(to: element, condition: "bad-request", type: "modify"))] }
            return [.incoming(.rosterPush(items[0], version: query["ver"])), .send(Self.resultReply(to: element))]
        case "get" where element.child("ping", namespace: XMPPNamespace.ping) != nil:
            return [.send(Self.resultReply(to: element))]
        case "get", "set":
            return [.send(Self.errorReply(to: element, condition: "service-unavailable", type: "cancel"))]
        default:
            return []
        }
    }

    /// A fresh id for an `iq` the agent sends after login.
    public mutating func makeID() -> String {
        nextID += 1
        return "k\(nextID)"
    }

    /// Queries of the archive still open: their results are taken, others' are not.
    private var archiveQueries: Set<String> = []

    /// A query of one page of the archive (`XMPPStanza.archiveQuery`); its results come as
    /// `.archived`, its end as `.archivePage`.
    public mutating func archiveQuery(after: String?, start: Date?, max: Int = 100) -> (id: String, stanza: String) {
        let id = makeID()
        archiveQueries.insert(id)
        return (id, XMPPStanza.archiveQuery(id: id, after: after, start: start, max: max))
    }

    // MARK: Helpers

    private mutating func end(_ error: XMPPError) -> [XMPPAction] {
        guard phase != .ended else { return [] }
        phase = .ended
        return [.fail(error)]
    }

    private var streamHeader: String {
        "<?xml version='1.0'?><stream:stream to='\(XMLEscape.attribute(settings.account.domain))' version='1.0' "
            + "xml:lang='en' xmlns='\(XMPPNamespace.client)' xmlns:stream='\(XMPPNamespace.stream)'>"
    }

    private var abort: String { "<abort xmlns='\(XMPPNamespace.sasl)'/>" }

    private func saslElement(_ name: String, _ payload: Data, mechanism: String? = nil) -> String {
        XMLElement(name, namespace: XMPPNamespace.sasl, attributes: mechanism.map { ["mechanism": $0] } ?? [:],
                   text: payload.base64EncodedString()).serialized()
    }

    static func resultReply(to request: XMLElement) -> String {
        var attributes = ["type": "result", "id": request["id"] ?? ""]
        if let from = request["from"] { attributes["to"] = from }
        return XMLElement("iq", namespace: XMPPNamespace.client, attributes: attributes).serialized()
    }

    static func errorReply(to request: XMLElement, condition: String, type: String) -> String {
        var attributes = ["type": "error", "id": request["id"] ?? ""]
        if let from = request["from"] { attributes["to"] = from }
        let error = XMLElement("error", namespace: XMPPNamespace.client, attributes: ["type": type],
                               children: [XMLElement(condition, namespace: XMPPNamespace.stanzas)])
        return XMLElement("iq", namespace: XMPPNamespace.client, attributes: attributes, children: [error]).serialized()
    }

    static func errorCondition(_ element: XMLElement) -> String? {
        element.child("error")?.children.first { $0.namespace == XMPPNamespace.stanzas }?.name
    }
}
