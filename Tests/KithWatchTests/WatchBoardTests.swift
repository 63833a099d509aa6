import KithAPI
import KithWatch
import Testing

/// The watcher's decisions without a socket: what is fetched when, in each refresh mode, what a
/// change draws, what an unwatched contact costs, and what the cache draws first.
@Suite struct WatchBoardTests {
    static func bob(unread: Int = 0, online: Bool = true) -> WatchedContact {
        WatchedContact(account: "bob", state: "contact", online: online, onlineDevices: online ? 1 : 0, unread: unread)
    }
    static let carol = WatchedContact(account: "carol", state: "contact", online: false, onlineDevices: 0, unread: 0)

    @Test func theCacheIsDrawnBeforeTheFirstFetch() {
        var board = WatchBoard(watched: ["bob", "carol"], refresh: .push)
        let actions = board.handle(.started(cached: [Self.bob(unread: 2), Self.carol], nowMillis: 0))
        #expect(actions == [.show([Self.bob(unread: 2), Self.carol], changed: []), .fetch])
        let empty = WatchBoard(watched: ["bob"], refresh: .push)
        var fresh = empty
        #expect(fresh.handle(.started(cached: [], nowMillis: 0)) == [.fetch], "nothing cached: nothing drawn yet")
        var cachedBoard = WatchBoard(watched: ["bob"], refresh: .push)
        _ = cachedBoard.handle(.started(cached: [Self.bob()], nowMillis: 0))
        #expect(cachedBoard.handle(.fetched([Self.bob()], nowMillis: 1)) == [.show([Self.bob()], changed: []), .save([Self.bob()])],
                "the same state, live now: drawn again")
    }

    @Test func onlyAChangeIsDrawnAndSaved() {
        var board = WatchBoard(watched: ["bob", "carol"], refresh: .push)
        _ = board.handle(.started(cached: [], nowMillis: 0))
        let first = board.handle(.fetched([Self.bob(), Self.carol], nowMillis: 10))
        #expect(first == [.show([Self.bob(), Self.carol], changed: ["bob", "carol"]), .save([Self.bob(), Self.carol])])
        _ = board.handle(.pushed(contact: "bob", nowMillis: 20))
        #expect(board.handle(.fetched([Self.bob(), Self.carol], nowMillis: 30)) == [], "no change: nothing drawn")
        _ = board.handle(.pushed(contact: "bob", nowMillis: 40))
        let changed = board.handle(.fetched([Self.bob(unread: 1), Self.carol], nowMillis: 50))
        #expect(changed == [.show([Self.bob(unread: 1), Self.carol], changed: ["bob"]), .save([Self.bob(unread: 1), Self.carol])])
    }

    @Test func anUnwatchedContactCostsNothingAndPushesCoalesce() {
        var board = WatchBoard(watched: ["bob"], refresh: .push)
        _ = board.handle(.started(cached: [], nowMillis: 0))
        _ = board.handle(.fetched([Self.bob()], nowMillis: 1))
        #expect(board.handle(.pushed(contact: "dave", nowMillis: 2)) == [])
        #expect(board.handle(.pushed(contact: "bob", nowMillis: 3)) == [.fetch])
        #expect(board.handle(.pushed(contact: "bob", nowMillis: 4)) == [], "one fetch at a time")
        #expect(board.handle(.pushed(contact: nil, nowMillis: 5)) == [])
        #expect(board.handle(.fetched([Self.bob(unread: 1)], nowMillis: 6)).last == .fetch, "one more after it, not two")
        #expect(board.handle(.fetched([Self.bob(unread: 1)], nowMillis: 7)) == [])
    }

    @Test func pollAndManualIgnorePushes() {
        var poll = WatchBoard(watched: ["bob"], refresh: .poll(seconds: 5))
        _ = poll.handle(.started(cached: [], nowMillis: 0))
        _ = poll.handle(.fetched([Self.bob()], nowMillis: 100))
        #expect(poll.handle(.pushed(contact: "bob", nowMillis: 200)) == [])
        #expect(poll.handle(.tick(nowMillis: 4000)) == [])
        #expect(poll.handle(.tick(nowMillis: 5100)) == [.fetch])

        var manual = WatchBoard(watched: ["bob"], refresh: .manual)
        _ = manual.handle(.started(cached: [], nowMillis: 0))
        _ = manual.handle(.fetched([Self.bob()], nowMillis: 100))
        #expect(manual.handle(.pushed(contact: "bob", nowMillis: 200)) == [])
        #expect(manual.handle(.tick(nowMillis: 10_000_000)) == [])
        #expect(manual.handle(.key("r")) == [.fetch])
    }

    @Test func pushModeFetchesOnceAMinuteAnyway() {
        var board = WatchBoard(watched: ["bob"], refresh: .push)
        _ = board.handle(.started(cached: [], nowMillis: 0))
        _ = board.handle(.fetched([Self.bob()], nowMillis: 0))
        #expect(board.handle(.tick(nowMillis: 59_000)) == [])
        #expect(board.handle(.tick(nowMillis: WatchBoard.pushSafetyMillis)) == [.fetch])
    }

    @Test func keysOpenAContactAndQuit() {
        var board = WatchBoard(watched: ["bob", "carol"], refresh: .push)
        _ = board.handle(.started(cached: [Self.bob(), Self.carol], nowMillis: 0))
        #expect(board.handle(.key("2")) == [.open("carol")])
        #expect(board.handle(.key("3")) == [], "no third contact")
        #expect(board.handle(.key("q")) == [.quit])
    }

    @Test func aFailedFetchKeepsTheBoardAndSaysWhy() {
        var board = WatchBoard(watched: ["bob"], refresh: .push)
        _ = board.handle(.started(cached: [Self.bob(unread: 3)], nowMillis: 0))
        #expect(board.handle(.fetchFailed("the agent stopped", nowMillis: 1)) == [.notice("the agent stopped")])
        #expect(board.shown == [Self.bob(unread: 3)])
        _ = board.handle(.key("r"))
        #expect(board.handle(.fetchFailed("the agent stopped", nowMillis: 2)) == [], "said once")
    }

    @Test func theStatusBarShape() {
        let bar = WatchText.statusBar([Self.bob(unread: 2), Self.carol])
        #expect(bar.text == "bob● 2  carol○")
        #expect(bar.class == "unread")
        #expect(bar.tooltip.split(separator: "\n").count == 2)
        #expect(WatchText.statusBar([Self.bob()]).class == "online")
        #expect(WatchText.statusBar([Self.carol]).class == "offline")
        let hostile = WatchedContact(account: "eve", state: "contact", online: true, onlineDevices: 1, unread: 1,
                                     newest: "hi \u{1b}[2J\u{202e}olleh")
        #expect(!WatchText.line(hostile).contains("\u{1b}") && !WatchText.line(hostile).contains("\u{202e}"))
    }
}
