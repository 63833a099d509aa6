import Testing
@testable import KithServer

/// Words from other instances that an account changed: one refresh for the words that come
/// before it starts reading, another for a word that comes after.
@Suite struct PendingRefreshesTests {
    @Test func wordsBeforeTheRefreshReadsFoldIntoIt() {
        var refreshes = PendingRefreshes()
        let started = ["alice", "alice", "bob", "alice"].map { refreshes.heard($0) }
        #expect(started == [true, false, true, false])
        refreshes.starting("alice")
        // Its reads may already be behind this word: it gets a refresh of its own.
        let again = refreshes.heard("alice")
        #expect(again)
        #expect(refreshes.waiting == ["alice", "bob"])
    }
}
