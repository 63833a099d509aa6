import Foundation
import Testing
@testable import KithXMPP

/// The session's decisions over a scripted server: the RFC 5802 exchange as the login, then the
/// roster, pushes, messages and presence; and each way a server can make it give up.
@Suite struct XMPPSessionTests {
    static let account = try! JID(parsing: "user@kith.test")

    static func settings(loopback: Bool = true, tls: Bool = false, version: String? = "") -> XMPPSession.Settings {
        .init(account: account, password: "pencil", resource: "kith", rosterVersion: version, canStartTLS: tls,
              isLoopback: loopback, clientNonce: SCRAMTests.clientNonce)
    }

    static func element(_ xml: String) -> XMLElement {
        let parser = XMLStreamParser()
        let events = try! parser.feed(Array((XMLStreamParserTests.header + xml).utf8))
        guard case .stanza(let element) = events.last! else { fatalError("no stanza in \(xml)") }
        return element
    }

    static let opened = XMLStreamParser.Event.streamOpened(XMLElement("stream", namespace: XMPPNamespace.stream))
    static func base64(_ s: String) -> String { Data(s.utf8).base64EncodedString() }
    static let saslFeatures = "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism>"
        + "<mechanism>PLAIN</mechanism></mechanisms></stream:features>"
    static let bindFeatures = "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/><session xmlns='urn:ietf:params:xml:ns:xmpp-session'>"
        + "<optional/></session><ver xmlns='urn:xmpp:features:rosterver'/></stream:features>"

    func feed(_ session: inout XMPPSession, _ xml: String) -> [XMPPAction] {
        session.receive(.stanza(Self.element(xml)))
    }

    /// Runs the login up to the roster request; returns the session.
    func loggedIn(version: String? = "") -> XMPPSession {
        var session = XMPPSession(Self.settings(version: version))
        _ = session.connected()
        _ = session.receive(Self.opened)
        _ = feed(&session, Self.saslFeatures)
        _ = feed(&session, "<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\(Self.base64(SCRAMTests.serverFirst))</challenge>")
        _ = feed(&session, "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\(Self.base64(SCRAMTests.serverFinal))</success>")
        _ = session.receive(Self.opened)
        _ = feed(&session, Self.bindFeatures)
        _ = feed(&session, "<iq type='result' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>user@kith.test/kith</jid></bind></iq>")
        return session
    }

    @Test func aLoginRunsSCRAMBindsAndAsksForTheRosterByVersion() throws {
        var session = XMPPSession(Self.settings(version: "v7"))
        let hello = session.connected()
        guard case .send(let header) = hello.first else { Issue.record("\(hello)"); return }
        #expect(header.contains("to='kith.test'") && header.contains("xmlns:stream='http://etherx.jabber.org/streams'"))
        #expect(session.receive(Self.opened) == [])
        #expect(feed(&session, Self.saslFeatures) == [.send(
            "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>\(Self.base64("n,,n=user,r=\(SCRAMTests.clientNonce)"))</auth>")])
        #expect(feed(&session, "<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\(Self.base64(SCRAMTests.serverFirst))</challenge>")
            == [.send("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\(Self.base64(SCRAMTests.clientFinal))</response>")])
        let success = feed(&session, "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\(Self.base64(SCRAMTests.serverFinal))</success>")
        #expect(success == [.restartParser, .send(header)])
        _ = session.receive(Self.opened)
        #expect(feed(&session, Self.bindFeatures) == [.send(
            "<iq id='bind' type='set'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>kith</resource></bind></iq>")])
        let bound = feed(&session, "<iq type='result' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>user@kith.test/kith</jid></bind></iq>")
        #expect(bound == [.loggedIn(try JID(parsing: "user@kith.test/kith")),
                          .send("<iq id='roster' type='get'><query xmlns='jabber:iq:roster' ver='v7'/></iq>")])
        #expect(!session.isReady)
        #expect(feed(&session, "<iq type='result' id='roster'/>") == [.roster(.unchanged), .send("<presence/>")])
        #expect(session.isReady)
    }

    @Test func aFullRosterComesWithItsVersionAndDropsBadItems() throws {
        var session = loggedIn()
        let actions = feed(&session, "<iq type='result' id='roster'><query xmlns='jabber:iq:roster' ver='v8'>"
            + "<item jid='Bob@Kith.test' name='Bob' subscription='both'><group>Friends</group></item>"
            + "<item jid='carol@kith.test' ask='subscribe'/>"
            + "<item jid='not a jid@@' subscription='both'/><item jid='dave@kith.test' subscription='sideways'/>"
            + "<item jid='eve@kith.test/phone'/></query></iq>")
        #expect(actions.first == .roster(.full([
            XMPPRosterItem(jid: try JID(parsing: "bob@kith.test"), name: "Bob", subscription: .both, groups: ["Friends"]),
            XMPPRosterItem(jid: try JID(parsing: "carol@kith.test"), pendingOut: true),
        ], version: "v8")))
    }

    @Test func anEmptyRostersVersionIsNotKept() throws {
        #expect(XMPPRosterAnswer.full([], version: "1").versionToKeep(previous: "0") == nil)
        #expect(XMPPRosterAnswer.full([XMPPRosterItem(jid: try JID(parsing: "b@k.test"))], version: "2").versionToKeep(previous: nil) == "2")
        #expect(XMPPRosterAnswer.unchanged.versionToKeep(previous: "2") == "2")
    }

    @Test func rosterPushesOnlyFromTheAccountsOwnServer() throws {
        var session = loggedIn()
        _ = feed(&session, "<iq type='result' id='roster'/>")
        let push = feed(&session, "<iq type='set' id='p1'><query xmlns='jabber:iq:roster' ver='v9'>"
            + "<item jid='bob@kith.test' subscription='remove'/></query></iq>")
        #expect(push == [.incoming(.rosterPush(XMPPRosterItem(jid: try JID(parsing: "bob@kith.test"), subscription: .remove), version: "v9")),
                         .send("<iq id='p1' type='result'/>")])
        let own = feed(&session, "<iq type='set' id='p2' from='user@kith.test'><query xmlns='jabber:iq:roster'>"
            + "<item jid='bob@kith.test'/></query></iq>")
        #expect(own.count == 2)
        let forged = feed(&session, "<iq type='set' id='p3' from='mallory@evil.test'><query xmlns='jabber:iq:roster'>"
            + "<item jid='bob@kith.test' subscription='remove'/></query></iq>")
        #expect(forged == [.send("<iq id='p3' to='mallory@evil.test' type='error'><error type='cancel'>"
            + "<service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>")])
    }

    @Test func messagesPresenceSubscriptionsAndPings() throws {
        var session = loggedIn()
        _ = feed(&session, "<iq type='result' id='roster'/>")
        let bob = try JID(parsing: "bob@kith.test/laptop")
        #expect(feed(&session, "<message from='bob@kith.test/laptop' type='chat' id='m1'><body>hi</body>"
            + "<stanza-id xmlns='urn:xmpp:sid:0' by='user@kith.test' id='arch-1'/></message>")
            == [.incoming(.message(from: bob, body: "hi", id: "m1", archiveID: "arch-1"))])
        #expect(feed(&session, "<message from='bob@kith.test/laptop'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>") == [])
        #expect(feed(&session, "<message from='bob@kith.test/laptop' type='error'><body>hi</body></message>") == [])
        #expect(feed(&session, "<presence from='bob@kith.test/laptop'><show>away</show></presence>")
            == [.incoming(.presence(from: bob, available: true, show: "away"))])
        #expect(feed(&session, "<presence from='bob@kith.test/laptop' type='unavailable'/>")
            == [.incoming(.presence(from: bob, available: false, show: nil))])
        #expect(feed(&session, "<presence from='stranger@kith.test' type='subscribe'/>")
            == [.incoming(.subscriptionRequest(from: try JID(parsing: "stranger@kith.test")))])
        #expect(feed(&session, "<iq type='get' id='ping1' from='kith.test'><ping xmlns='urn:xmpp:ping'/></iq>")
            == [.send("<iq id='ping1' to='kith.test' type='result'/>")])
        #expect(feed(&session, "<iq type='get' id='v1' from='kith.test'><query xmlns='jabber:iq:version'/></iq>").count == 1)
        #expect(feed(&session, "<iq type='result' id='k1'/>") == [.incoming(.iqAnswer(id: "k1", ok: true))])
    }

    @Test func plainOnlyOnLoopbackOrInsideTLS() {
        let plainOnly = "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>"
        var local = XMPPSession(Self.settings(loopback: true))
        _ = local.connected(); _ = local.receive(Self.opened)
        #expect(feed(&local, plainOnly) == [.send(
            "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>\(Self.base64("\u{0}user\u{0}pencil"))</auth>")])
        var remote = XMPPSession(Self.settings(loopback: false))
        _ = remote.connected(); _ = remote.receive(Self.opened)
        #expect(feed(&remote, plainOnly) == [.fail(.tlsUnavailable)])
    }

    @Test func startTLSWhenOfferedThenANewStream() {
        var session = XMPPSession(Self.settings(loopback: false, tls: true))
        _ = session.connected(); _ = session.receive(Self.opened)
        #expect(feed(&session, "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features>")
            == [.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")])
        #expect(feed(&session, "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>") == [.startTLS])
        let restarted = session.tlsEstablished()
        #expect(restarted.first == .restartParser)
        _ = session.receive(Self.opened)
        #expect(feed(&session, Self.saslFeatures).count == 1)
    }

    @Test func waysAServerMakesTheLoginFail() {
        func login(_ steps: [String]) -> [XMPPAction] {
            var session = XMPPSession(Self.settings())
            _ = session.connected(); _ = session.receive(Self.opened)
            var last: [XMPPAction] = []
            for step in steps { last = feed(&session, step) }
            return last
        }
        let challenge = "<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\(Self.base64(SCRAMTests.serverFirst))</challenge>"
        #expect(login([Self.saslFeatures, challenge, "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\(Self.base64("v=AAAA"))</success>"])
            == [.fail(.scram(.serverNotAuthenticated))])
        #expect(login([Self.saslFeatures, challenge, "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"])
            == [.fail(.scram(.serverNotAuthenticated))])
        #expect(login([Self.saslFeatures, "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/></failure>"])
            == [.fail(.authenticationFailed("not-authorized"))])
        #expect(login([Self.saslFeatures, "<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\(Self.base64("r=zzz,s=QSXCR+Q6sek8bf92,i=4096"))</challenge>"])
            == [.send("<abort xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"), .fail(.scram(.nonceMismatch))])
        #expect(login(["<message from='x@y'><body>early</body></message>"]) == [.fail(.unexpected("<message> before the stream's features"))])
        #expect(login(["<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>DIGEST-MD5</mechanism></mechanisms></stream:features>"])
            == [.fail(.noUsableMechanism(["DIGEST-MD5"]))])
        #expect(login(["<stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>"])
            == [.fail(.streamError("host-unknown"))])
    }

    @Test func aBindToAnotherAccountIsRefused() {
        var fresh = XMPPSession(Self.settings())
        _ = fresh.connected(); _ = fresh.receive(Self.opened)
        _ = feed(&fresh, Self.saslFeatures)
        _ = feed(&fresh, "<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\(Self.base64(SCRAMTests.serverFirst))</challenge>")
        _ = feed(&fresh, "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\(Self.base64(SCRAMTests.serverFinal))</success>")
        _ = fresh.receive(Self.opened)
        _ = feed(&fresh, Self.bindFeatures)
        #expect(feed(&fresh, "<iq type='result' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>admin@kith.test/x</jid></bind></iq>")
            == [.fail(.bindFailed("no usable jid"))])
    }

    @Test func theEndOfTheStreamEndsTheSessionOnce() {
        var session = loggedIn()
        #expect(session.receive(.streamClosed) == [.fail(.closed)])
        #expect(session.closed() == [])
    }

    @Test func outgoingStanzas() throws {
        let bob = try JID(parsing: "bob@kith.test/laptop")
        #expect(XMPPStanza.message(to: bob, body: "a<b", id: "m1")
            == "<message id='m1' to='bob@kith.test/laptop' type='chat'><body>a&lt;b</body></message>")
        #expect(XMPPStanza.presence("subscribed", to: bob) == "<presence to='bob@kith.test' type='subscribed'/>")
        #expect(XMPPStanza.rosterSet(XMPPRosterItem(jid: bob.bare, subscription: .remove), id: "k2")
            == "<iq id='k2' type='set'><query xmlns='jabber:iq:roster'><item jid='bob@kith.test' subscription='remove'/></query></iq>")
    }
}
