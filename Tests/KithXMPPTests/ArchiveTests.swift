import Foundation
@testable import KithXMPP
import Testing

/// The account's archive (XEP-0313): results are taken only from the account's own archive and
/// only for a query of ours; a page's end says whether more follows.
struct ArchiveTests {
    let session = XMPPSessionTests()

    func result(query: String, from: String? = nil, id: String = "A1", inner: String) -> String {
        "<message\(from.map { " from='\($0)'" } ?? "")><result xmlns='urn:xmpp:mam:2' queryid='\(query)' id='\(id)'>"
            + "<forwarded xmlns='urn:xmpp:forward:0'><delay xmlns='urn:xmpp:delay' stamp='2025-12-05T10:00:00.250Z'/>"
            + inner + "</forwarded></result></message>"
    }

    @Test func resultsOfOurQueryFromOurArchiveOnly() throws {
        var live = session.loggedIn()
        let (id, stanza) = live.archiveQuery(after: "A0", start: nil, max: 100)
        #expect(stanza.contains("<after>A0</after>") && stanza.contains("queryid='\(id)'") && stanza.contains("urn:xmpp:mam:2"))
        let bob = "<message xmlns='jabber:client' from='bob@kith.test/phone' to='user@kith.test'><body>while away</body></message>"

        let taken = session.feed(&live, result(query: id, inner: bob))
        guard case .incoming(.archived(let message)) = taken.first else { Issue.record("\(taken)"); return }
        let bobJID = try JID(parsing: "bob@kith.test")
        #expect(message.archiveID == "A1" && message.body == "while away" && message.from.bare == bobJID)
        #expect(message.stamp == Date(timeIntervalSince1970: 1_764_928_800.25))

        #expect(session.feed(&live, result(query: id, from: "mallory@evil.test", inner: bob)).isEmpty, "another JID's archive")
        #expect(session.feed(&live, result(query: "not-ours", inner: bob)).isEmpty, "a query we did not send")
        #expect(session.feed(&live, result(query: id, inner: "<message xmlns='jabber:client' from='bob@kith.test'/>")).isEmpty, "no body")

        let end = session.feed(&live, "<iq type='result' id='\(id)'><fin xmlns='urn:xmpp:mam:2'>"
                               + "<set xmlns='http://jabber.org/protocol/rsm'><last>A9</last></set></fin></iq>")
        #expect(end == [.incoming(.archivePage(XMPPArchivePage(queryID: id, ok: true, complete: false, last: "A9")))])
        #expect(session.feed(&live, result(query: id, inner: bob)).isEmpty, "a closed query takes no more results")
    }

    @Test func theFirstQueryStartsAtATimeAndARefusalEndsIt() {
        var live = session.loggedIn()
        let (id, stanza) = live.archiveQuery(after: nil, start: Date(timeIntervalSince1970: 1_764_928_800), max: 100)
        #expect(stanza.contains("2025-12-05T10:00:00Z") && !stanza.contains("<after>"))
        let refused = session.feed(&live, "<iq type='error' id='\(id)'><error type='cancel'>"
                                   + "<item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>")
        #expect(refused == [.incoming(.archivePage(XMPPArchivePage(queryID: id, ok: false, complete: false, last: nil)))])
    }
}

/// A sign-in's reading of the archive: where it starts, when it goes on, and that it stops.
struct ArchiveFetchTests {
    @Test func itStartsAfterTheNewestStoredOrWhenTheAccountWasAdded() {
        let added = Date(timeIntervalSince1970: 1_000)
        #expect(XMPPArchiveFetch.firstQuery(newestArchived: "A7", added: added) == ("A7", nil))
        #expect(XMPPArchiveFetch.firstQuery(newestArchived: nil, added: added) == (nil, added))
    }

    @Test func pagesFollowUntilCompleteAndAtMostFiftyASignIn() {
        var fetch = XMPPArchiveFetch()
        fetch.asked("q1")
        #expect(fetch.ended(XMPPArchivePage(queryID: "other", ok: true, complete: false, last: "X")) == .ignore)
        #expect(fetch.ended(XMPPArchivePage(queryID: "q1", ok: true, complete: false, last: "A100")) == .next(after: "A100"))
        #expect(fetch.ended(XMPPArchivePage(queryID: "q1", ok: true, complete: false, last: "A200")) == .ignore, "answered already")
        fetch.asked("q2")
        #expect(fetch.ended(XMPPArchivePage(queryID: "q2", ok: true, complete: true, last: "A150")) == .done)

        var endless = XMPPArchiveFetch()
        var steps = 0
        for page in 1...100 {
            endless.asked("p\(page)")
            guard case .next = endless.ended(XMPPArchivePage(queryID: "p\(page)", ok: true, complete: false, last: "L\(page)")) else { break }
            steps += 1
        }
        #expect(steps == XMPPArchiveFetch.maxPages - 1, "a server that never says complete is read \(XMPPArchiveFetch.maxPages) pages")

        var refused = XMPPArchiveFetch()
        refused.asked("r")
        #expect(refused.ended(XMPPArchivePage(queryID: "r", ok: false, complete: false, last: nil)) == .refused)
    }

    @Test func anArchivedMessageBelongsToTheOtherPartysConversation() throws {
        let alice = try JID(parsing: "alice@kith.test/kith"), bob = try JID(parsing: "bob@kith.test/phone")
        let incoming = XMPPArchivedMessage(archiveID: "A", from: bob, to: alice, body: "hi", stamp: nil)
        let sentElsewhere = XMPPArchivedMessage(archiveID: "B", from: try JID(parsing: "alice@kith.test/phone"), to: bob, body: "yo", stamp: nil)
        let toSelf = XMPPArchivedMessage(archiveID: "C", from: alice, to: alice.bare, body: "note", stamp: nil)
        #expect(incoming.conversation(of: alice.bare).map { "\($0.peer) \($0.outgoing)" } == "bob@kith.test false")
        #expect(sentElsewhere.conversation(of: alice.bare).map { "\($0.peer) \($0.outgoing)" } == "bob@kith.test true")
        #expect(toSelf.conversation(of: alice.bare) == nil)
        #expect(XMPPError.authenticationFailed("not-authorized").needsTheUser && !XMPPError.closed.needsTheUser)
    }
}
