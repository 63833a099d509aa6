import KithCore
import KithWire
import Testing

/// The read-state rules (spec §Read state), every branch, without a store.
struct ReadStateTests {
    let text = "0123456789"

    @Test func clipsCutBytesAtTheStartMiddleOrEnd() {
        #expect(Clip(mode: .start, limit: 4).cut(text.utf8) == Array("0123".utf8))
        #expect(Clip(mode: .end, limit: 4).cut(text.utf8) == Array("6789".utf8))
        #expect(Clip(mode: .middle, limit: 4).cut(text.utf8) == Array("3456".utf8))
        #expect(Clip(mode: .middle, limit: 3).cut(text.utf8) == Array("345".utf8))  // (10 − 3) / 2 = 3
        #expect(Clip(mode: .start, limit: 256).cut(text.utf8) == Array(text.utf8))  // short: whole
        #expect(Clip(mode: .start, limit: 1).cut("ß".utf8) == [0xC3])  // bytes, not characters
    }

    @Test func anItemMarksTheMessageWithItsCode() {
        let item = ViewedItem(code: 7, sentAtMillis: 1, sender: "bob-PC-1")
        let held = HeldMessage(code: 7, sender: "bob-PC-1", text: text, viewed: false)
        #expect(ReadState.apply(item, exact: held, sameAccount: []) == .markViewed(code: 7))
        var viewed = held
        viewed.viewed = true
        #expect(ReadState.apply(item, exact: viewed, sameAccount: []) == .alreadyViewed)
    }

    @Test func anItemWithoutItsMessageMatchesByClipFromTheSameAccountOrIsHeld() {
        let source = HeldMessage(code: 7, sender: "bob-PC-1", text: text, viewed: false)
        let item = ReadState.item(for: source, sentAtMillis: 1, clip: Clip(mode: .end, limit: 4))
        #expect(item.clip == Array("6789".utf8) && item.clipMode == .end && item.clipLimit == 4)
        let copy = HeldMessage(code: 9, sender: "bob-MP-1", text: text, viewed: false)  // another route, same person
        let other = HeldMessage(code: 8, sender: "carol-PC-1", text: text, viewed: false)
        let differs = HeldMessage(code: 10, sender: "bob-PC-1", text: "012345", viewed: false)
        #expect(ReadState.apply(item, exact: nil, sameAccount: [differs, copy]) == .markViewed(code: 9))
        #expect(ReadState.apply(item, exact: nil, sameAccount: [other, differs]) == .hold)
        let unclipped = ReadState.item(for: source, sentAtMillis: 1, clip: nil)
        #expect(ReadState.apply(unclipped, exact: nil, sameAccount: [copy]) == .hold)
        var lying = item
        lying.clipLimit = 2  // a clip longer than its limit is ignored
        #expect(ReadState.apply(lying, exact: nil, sameAccount: [copy]) == .hold)
    }

    @Test func anArrivingMessageConsumesTheNoticesHeldForIt() {
        let message = HeldMessage(code: 7, sender: "bob-PC-1", text: text, viewed: false)
        let byCode = HeldNotice(id: 1, item: ViewedItem(code: 7, sentAtMillis: 1, sender: "bob-PC-1"), viewedAtMillis: 50,
                                viewedBy: "alice-PC-1", expiresAtMillis: 1000)
        let byClip = HeldNotice(id: 2, item: ReadState.item(for: HeldMessage(code: 3, sender: "bob-PC-2", text: text, viewed: false),
                                                            sentAtMillis: 1, clip: .default),
                                viewedAtMillis: 60, viewedBy: "alice-PC-2", expiresAtMillis: 1000)
        let unrelated = HeldNotice(id: 3, item: ViewedItem(code: 99, sentAtMillis: 1, sender: "bob-PC-1"), viewedAtMillis: 70,
                                   viewedBy: "alice-PC-1", expiresAtMillis: 1000)
        var outcome = ReadState.arrival(of: message, held: [unrelated, byCode, byClip], viewedUpTo: nil, now: 100)
        #expect(outcome.consumed.map(\.id) == [1] && outcome.viewed)
        outcome = ReadState.arrival(of: message, held: [unrelated, byClip], viewedUpTo: nil, now: 100)
        #expect(outcome.consumed.map(\.id) == [2] && outcome.viewed)
        outcome = ReadState.arrival(of: message, held: [unrelated], viewedUpTo: nil, now: 100)
        #expect(outcome.consumed.isEmpty && !outcome.viewed)
        // Expired notices apply to nothing; the mark covers codes at or below it.
        outcome = ReadState.arrival(of: message, held: [byCode], viewedUpTo: nil, now: 1000)
        #expect(outcome.consumed.isEmpty && !outcome.viewed)
        #expect(ReadState.expired([byCode, unrelated], now: 1000).map(\.id) == [1, 3])
        #expect(ReadState.arrival(of: message, held: [], viewedUpTo: 7, now: 100).viewed)
        #expect(!ReadState.arrival(of: message, held: [], viewedUpTo: 6, now: 100).viewed)
    }

    /// Order independence: notice then message, or message then notice, ends viewed either way.
    @Test func noticeAndMessageInEitherOrderEndViewed() {
        let message = HeldMessage(code: 7, sender: "bob-PC-1", text: text, viewed: false)
        let item = ReadState.item(for: message, sentAtMillis: 1, clip: .default)
        // message first
        #expect(ReadState.apply(item, exact: message, sameAccount: []) == .markViewed(code: 7))
        // notice first: held, then consumed on arrival
        #expect(ReadState.apply(item, exact: nil, sameAccount: []) == .hold)
        let held = HeldNotice(id: 1, item: item, viewedAtMillis: 5, viewedBy: "alice-PC-1", expiresAtMillis: 10_000)
        #expect(ReadState.arrival(of: message, held: [held], viewedUpTo: nil, now: 6).viewed)
    }

    @Test func deviceIdsNameTheirAccount() {
        #expect(ReadState.account(ofDevice: "bob.smith_2-PC-1") == "bob.smith_2")
        #expect(ReadState.account(ofDevice: "nodash") == "nodash")
    }
}
