import KithTestSupport
import Testing
@testable import KithCore

@Suite struct ReplayWindowTests {
    @Test func acceptsEachCounterOnceInAnyOrder() {
        var window = ReplayWindow()
        var random = SplitMix64(seed: 3)
        let counters = (0..<1500 as Range<UInt64>).shuffled(using: &random)
        for c in counters { do { let accepted = window.accept(c); #expect(accepted) } }
        for c in counters { do { let accepted = window.accept(c); #expect(!accepted) } }
    }

    @Test func refusesWhatFellOutOfTheWindowAndKeepsTheEdge() {
        var window = ReplayWindow()
        do { let accepted = window.accept(10_000); #expect(accepted) }
        #expect(!window.wouldAccept(10_000 - ReplayWindow.size))
        do { let accepted = window.accept(10_000 - ReplayWindow.size + 1); #expect(accepted) }  // the oldest counter still inside
        do { let accepted = window.accept(10_000 - ReplayWindow.size + 1); #expect(!accepted) }
    }

    /// The case a bitmap of exactly `size` bits gets wrong: a counter at the window's edge that
    /// shares a word with the newest counter after the window slid.
    @Test func edgeCounterIsNotForgottenWhenTheWindowSlides() {
        var window = ReplayWindow()
        do { let accepted = window.accept(53); #expect(accepted) }
        do { let accepted = window.accept(53 + ReplayWindow.size - 1); #expect(accepted) }
        do { let accepted = window.accept(53); #expect(!accepted) }
    }

    @Test func largeJumpsClearTheWholeBitmap() {
        var window = ReplayWindow()
        for c in 0..<100 as Range<UInt64> { window.accept(c) }
        do { let accepted = window.accept(1 << 40); #expect(accepted) }
        for c in ((1 << 40) - 100)..<(1 << 40) as Range<UInt64> { do { let accepted = window.accept(c); #expect(accepted) } }
        #expect(!window.wouldAccept(5))
    }

    /// Against a plain set of everything seen, over a random walk with jumps and replays.
    @Test func agreesWithAReferenceModel() {
        var window = ReplayWindow()
        var seen = Set<UInt64>(), highest: UInt64? = nil
        var random = SplitMix64(seed: 11)
        var counter: UInt64 = 0
        for _ in 0..<50_000 {
            switch random.next() % 10 {
            case 0: counter += random.next() % 5000
            case 1...3: counter = counter > 3000 ? counter - random.next() % 3000 : 0
            default: counter += 1
            }
            let expected = !seen.contains(counter) && (highest == nil || counter > highest! || highest! - counter < ReplayWindow.size)
            let accepted = window.accept(counter)
            #expect(accepted == expected, "counter \(counter)")
            if expected { seen.insert(counter); highest = max(highest ?? 0, counter) }
        }
    }
}
