import Foundation
import KithCore
import Testing

/// The merged contact list's rules, without a network: logins bring whole lists, the user binds,
/// unbinds, renames and answers offers; nothing is merged without the user and nothing the user
/// kept apart comes back.
@Suite struct PeopleBookTests {
    static let family = Network.kith(server: "fp-family", account: "alice")
    static let work = Network.kith(server: "fp-work", account: "alice.work")
    static let jabber = Network.xmpp(jid: "alice@kith.test")

    static func kith(_ id: String, _ network: Network = family) -> Endpoint { Endpoint(network: network, id: id) }
    static func xmpp(_ jid: String) -> Endpoint { Endpoint(network: jabber, id: jid) }

    /// carol on Kith, then carol@kith.test on XMPP: the offer that makes.
    static func carolOnBothNetworks(_ book: inout PeopleBook) throws -> BindingOffer {
        _ = book.sync(family, contacts: [NetworkContact(kith("carol"))])
        _ = book.sync(jabber, contacts: [NetworkContact(xmpp("carol@kith.test"))])
        return try #require(book.offers.first)
    }

    @Test func aFirstLoginAddsEveryContactAsItsOwnNewPerson() throws {
        var book = PeopleBook()
        let changes = book.sync(Self.family, contacts: [NetworkContact(Self.kith("bob"), displayName: "Bob"), NetworkContact(Self.kith("carol"))])
        #expect(changes.count == 2)
        #expect(book.sorted.map(\.name) == ["Bob", "carol"])
        #expect(book.sorted.allSatisfy { $0.isNew })
        #expect(book.offers.isEmpty)
        #expect(book.sync(Self.family, contacts: [NetworkContact(Self.kith("bob"), displayName: "Bob"), NetworkContact(Self.kith("carol"))]) == [])
    }

    @Test func theSameIDOnAnotherNetworkIsOfferedNeverBound() throws {
        var book = PeopleBook()
        _ = book.sync(Self.family, contacts: [NetworkContact(Self.kith("carol"))])
        let carol = try #require(book.person(of: Self.kith("carol")))
        let changes = book.sync(Self.jabber, contacts: [NetworkContact(Self.xmpp("Carol@kith.test".lowercased()))])
        let offer = BindingOffer(endpoint: Self.xmpp("carol@kith.test"), person: carol.id, reason: .sameID)
        #expect(changes.contains(.offered(offer)))
        #expect(book.offers == [offer])
        #expect(book.people.count == 2, "offered, not bound")
        #expect(book.person(of: Self.xmpp("carol@kith.test"))?.id != carol.id)
    }

    @Test func aNameMatchIsOfferedToo() throws {
        var book = PeopleBook()
        _ = book.sync(Self.family, contacts: [NetworkContact(Self.kith("bob"), displayName: "Bob Smith")])
        let changes = book.sync(Self.jabber, contacts: [NetworkContact(Self.xmpp("robert@jabber.test"), displayName: " bob smith ")])
        #expect(changes.contains { if case .offered(let o) = $0 { o.reason == .sameName } else { false } })
    }

    @Test func aRejectedOfferIsNeverOfferedAgain() throws {
        var book = PeopleBook()
        let offer = try Self.carolOnBothNetworks(&book)
        _ = try book.answer(offer.endpoint, person: offer.person, accept: false)
        #expect(book.offers.isEmpty)
        for round in 0..<20 {
            // Twenty logins, every other one with carol gone from the XMPP roster and back.
            let xmppContacts = round % 2 == 0 ? [] : [NetworkContact(Self.xmpp("carol@kith.test"))]
            _ = book.sync(Self.family, contacts: [NetworkContact(Self.kith("carol"))])
            _ = book.sync(Self.jabber, contacts: xmppContacts)
            #expect(book.offers.isEmpty)
        }
    }

    @Test func acceptingBindsUnderThePersonsName() throws {
        var book = PeopleBook()
        _ = book.sync(Self.family, contacts: [NetworkContact(Self.kith("carol"), displayName: "Carol")])
        _ = book.sync(Self.jabber, contacts: [NetworkContact(Self.xmpp("carol@kith.test"))])
        let offer = try #require(book.offers.first)
        _ = try book.answer(offer.endpoint, person: offer.person, accept: true)
        #expect(book.people.count == 1)
        #expect(book.people[offer.person]?.endpoints == [Self.kith("carol"), Self.xmpp("carol@kith.test")])
        #expect(book.people[offer.person]?.name == "Carol")
        #expect(book.offers.isEmpty)
        #expect(throws: PeopleError.noOffer(offer.endpoint, person: offer.person)) {
            try book.answer(offer.endpoint, person: offer.person, accept: true)
        }
    }

    @Test func bindRenameUnbind() throws {
        var book = PeopleBook()
        _ = book.sync(Self.family, contacts: [NetworkContact(Self.kith("bob"))])
        _ = book.sync(Self.jabber, contacts: [NetworkContact(Self.xmpp("robert@jabber.test"))])
        _ = book.sync(Self.work, contacts: [NetworkContact(Self.kith("rob", Self.work))])
        _ = try book.bind(name: "Bob", [Self.kith("bob"), Self.xmpp("robert@jabber.test"), Self.kith("rob", Self.work)])
        let bob = try #require(book.person(of: Self.xmpp("robert@jabber.test")))
        #expect(book.people.count == 1 && bob.name == "Bob" && bob.endpoints.count == 3)
        _ = try book.rename(bob.id, to: "Robert")
        #expect(book.people[bob.id]?.name == "Robert")
        #expect(throws: PeopleError.emptyName) { try book.rename(bob.id, to: "  ") }

        _ = try book.unbind(Self.xmpp("robert@jabber.test"))
        #expect(book.people.count == 2)
        #expect(book.person(of: Self.kith("bob"))?.endpoints == [Self.kith("bob"), Self.kith("rob", Self.work)])
        #expect(book.person(of: Self.xmpp("robert@jabber.test"))?.endpoints == [Self.xmpp("robert@jabber.test")])
        #expect(throws: PeopleError.onlyEndpoint(Self.xmpp("robert@jabber.test"))) { try book.unbind(Self.xmpp("robert@jabber.test")) }

        // An unbound pair is kept apart: gone from the roster and back, it is not offered.
        _ = book.sync(Self.jabber, contacts: [])
        _ = book.sync(Self.jabber, contacts: [NetworkContact(Self.xmpp("robert@jabber.test"), displayName: "Robert")])
        #expect(book.offers.isEmpty)
        // The user may still bind it again by hand.
        _ = try book.bind(name: "Robert", [Self.kith("bob"), Self.xmpp("robert@jabber.test")])
        #expect(book.people.count == 1)
    }

    @Test func aContactRemovedOnItsNetworkLeavesThePersonsOtherEndpoints() throws {
        var book = PeopleBook()
        _ = book.sync(Self.family, contacts: [NetworkContact(Self.kith("bob"))])
        _ = book.sync(Self.jabber, contacts: [NetworkContact(Self.xmpp("bob@kith.test"))])
        _ = try book.bind(name: "Bob", [Self.kith("bob"), Self.xmpp("bob@kith.test")])
        let id = try #require(book.person(of: Self.kith("bob"))).id
        #expect(book.sync(Self.jabber, contacts: []) == [.personChanged(id)])
        #expect(book.people[id]?.endpoints == [Self.kith("bob")])
        #expect(book.sync(Self.family, contacts: []) == [.personRemoved(id)])
        #expect(book.people.isEmpty)
    }

    @Test func removingAnEndpointWithdrawsItsOffers() throws {
        var book = PeopleBook()
        let offer = try Self.carolOnBothNetworks(&book)
        #expect(book.sync(Self.jabber, contacts: []).contains(.offerWithdrawn(offer)))
        #expect(book.offers.isEmpty)
    }

    @Test func newMarksClearWhenSeen() throws {
        var book = PeopleBook()
        _ = book.sync(Self.family, contacts: [NetworkContact(Self.kith("bob")), NetworkContact(Self.kith("carol"))])
        let bob = try #require(book.person(of: Self.kith("bob")))
        #expect(book.markSeen(bob.id) == [.personChanged(bob.id)])
        #expect(book.people.values.filter { $0.isNew }.count == 1)
        #expect(book.markSeen().count == 1)
        #expect(book.markSeen() == [])
    }

    @Test func requestsAboutUnknownThingsAreRefused() {
        var book = PeopleBook()
        #expect(throws: PeopleError.unknownEndpoint(Self.kith("nobody"))) { try book.bind(name: "x", [Self.kith("nobody")]) }
        #expect(throws: PeopleError.unknownEndpoint(Self.kith("nobody"))) { try book.unbind(Self.kith("nobody")) }
        #expect(throws: PeopleError.unknownPerson(9)) { try book.rename(9, to: "x") }
    }

    @Test func routingPrefersReachableThenTheConversationThenKith() throws {
        var book = PeopleBook()
        _ = book.sync(Self.family, contacts: [NetworkContact(Self.kith("bob"))])
        _ = book.sync(Self.jabber, contacts: [NetworkContact(Self.xmpp("bob@kith.test"))])
        _ = try book.bind(name: "Bob", [Self.kith("bob"), Self.xmpp("bob@kith.test")])
        let bob = try #require(book.person(of: Self.kith("bob")))
        let k = Self.kith("bob"), x = Self.xmpp("bob@kith.test")
        #expect(PersonRoute.choose(bob, reachability: [k: .offline, x: .online]) == x)
        #expect(PersonRoute.choose(bob, reachability: [k: .away, x: .online]) == x)
        #expect(PersonRoute.choose(bob, reachability: [k: .online, x: .online]) == k)
        #expect(PersonRoute.choose(bob, reachability: [k: .online, x: .online], lastUsed: x) == x)
        #expect(PersonRoute.choose(bob, reachability: [k: .away, x: .online], lastUsed: k) == x)
        #expect(PersonRoute.choose(bob, reachability: [:]) == k)
        #expect(PersonRoute.choose(bob, reachability: [k: .offline, x: .online], kithOnly: true) == k)
    }

    @Test func theBookSurvivesEncoding() throws {
        var book = PeopleBook()
        let offer = try Self.carolOnBothNetworks(&book)
        _ = try book.answer(offer.endpoint, person: offer.person, accept: false)
        let copy = try JSONDecoder().decode(PeopleBook.self, from: JSONEncoder().encode(book))
        #expect(copy == book)
    }
}

/// "Kith only" is the safer choice and survives what the user does to the person.
struct PeopleBookKithOnlyTests {
    @Test func kithOnlySurvivesBindAndUnbind() throws {
        var book = PeopleBook()
        let kith = Endpoint(network: .kith(server: "3f", account: "alice"), id: "bob")
        let xmpp = Endpoint(network: .xmpp(jid: "alice@example.org"), id: "bob@example.org")
        _ = book.sync(kith.network, contacts: [NetworkContact(kith)])
        _ = book.sync(xmpp.network, contacts: [NetworkContact(xmpp)])
        let xmppPerson = try #require(book.person(of: xmpp)).id
        _ = try book.setKithOnly(xmppPerson, true)
        _ = try book.bind(name: "Bob", [kith, xmpp])
        #expect(book.person(of: kith)?.kithOnly == true)
        _ = try book.unbind(xmpp)
        #expect(book.person(of: xmpp)?.kithOnly == true && book.person(of: kith)?.kithOnly == true)
        #expect(throws: PeopleError.unknownPerson(999)) { try book.setKithOnly(999, false) }
    }
}
