import KithXMPP
import Testing

/// The roster a client keeps between logins: what a login's answer and each push change.
struct RosterBookTests {
    let bob = try! JID(parsing: "bob@kith.test")
    let carol = try! JID(parsing: "carol@kith.test")
    let dave = try! JID(parsing: "dave@kith.test")

    @Test func aFullAnswerIsTheTruthAndUnchangedKeepsEverything() {
        var book = XMPPRosterBook(items: [XMPPRosterItem(jid: bob, name: "Bob", subscription: .both),
                                          XMPPRosterItem(jid: carol, subscription: .to)], version: "4")
        #expect(book.apply(.unchanged) == .init())
        #expect(book.version == "4" && book.items.count == 2)

        let change = book.apply(.full([XMPPRosterItem(jid: bob, name: "Bobby", subscription: .both),
                                       XMPPRosterItem(jid: dave, subscription: .none)], version: "7"))
        #expect(change == .init(added: [dave], updated: [bob], removed: [carol]))
        #expect(book.version == "7")
        #expect(book.sorted.map(\.jid) == [bob, dave])
    }

    @Test func anEmptyRostersVersionIsNotKept() {
        var book = XMPPRosterBook(items: [XMPPRosterItem(jid: bob)], version: "3")
        #expect(book.apply(.full([], version: "1")) == .init(removed: [bob]))
        #expect(book.version == nil, "Prosody calls a never-saved roster version 1, and its first save too")
    }

    @Test func pushesAddChangeAndRemoveOneItem() {
        var book = XMPPRosterBook()
        #expect(book.apply(push: XMPPRosterItem(jid: bob, subscription: .none), version: "2") == .init(added: [bob]))
        #expect(book.apply(push: XMPPRosterItem(jid: bob, subscription: .none), version: "2") == .init(), "the same item again changes nothing")
        #expect(book.apply(push: XMPPRosterItem(jid: bob, subscription: .both), version: "3") == .init(updated: [bob]))
        #expect(book.apply(push: XMPPRosterItem(jid: carol, subscription: .remove), version: "4") == .init(), "removing an unknown item")
        #expect(book.apply(push: XMPPRosterItem(jid: bob, subscription: .remove), version: "5") == .init(removed: [bob]))
        #expect(book.items.isEmpty && book.version == "5")
    }
}
