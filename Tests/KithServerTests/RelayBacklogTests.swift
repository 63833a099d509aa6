import Testing
@testable import KithServer

/// A session's relayed payloads: what is queued, what waits in the store, and that nothing is
/// skipped or reordered between the two.
@Suite struct RelayBacklogTests {
    @Test func aNewSessionReadsWhatWaitedBeforeTakingNewPayloads() throws {
        var backlog = RelayBacklog()
        let early = backlog.admit(id: 7, queued: 0)
        #expect(!early, "payload 7 arrived while the store's backlog is unread: it stays there")
        let read = try #require(backlog.reload(queued: 2))
        #expect(read.after == 0 && read.limit == RelayBacklog.queueLimit - 2)
        backlog.reloaded([3, 5, 7], limit: read.limit)
        #expect(!backlog.inStore && backlog.queuedUpTo == 7)
        #expect(backlog.reload(queued: 0) == nil, "nothing left in the store")
        let next = backlog.admit(id: 8, queued: 3)
        #expect(next && backlog.queuedUpTo == 8, "now payloads go straight to the queue")
    }

    @Test func aPayloadReadFromTheStoreBeforeItWasHandedOnIsNotQueuedTwice() throws {
        // Committed as 4 and 5, read from the store by the session's first reload, then handed on
        // by the committer: already queued.
        var backlog = RelayBacklog()
        backlog.reloaded([4, 5], limit: 10)
        let four = backlog.admit(id: 4, queued: 2), five = backlog.admit(id: 5, queued: 2)
        #expect(!four && !five)
        let six = backlog.admit(id: 6, queued: 2)
        #expect(six && backlog.queuedUpTo == 6)
    }

    @Test func payloadsAnotherInstanceCommittedAreReadAfterWhatWasWritten() throws {
        // Up to 5 written; another instance on the shared store committed 6 and 7.
        var backlog = RelayBacklog()
        backlog.reloaded([4, 5], limit: 10)
        backlog.storeHasMore()
        let early = backlog.admit(id: 8, queued: 0)
        #expect(!early, "8, committed here, must not overtake 6 and 7: it is read from the store with them")
        let read = try #require(backlog.reload(queued: 0))
        #expect(read.after == 5)
        backlog.reloaded([6, 7, 8], limit: read.limit)
        #expect(!backlog.inStore && backlog.queuedUpTo == 8)
        let next = backlog.admit(id: 9, queued: 0)
        #expect(next)
    }

    @Test func aSlowReceiversPayloadsWaitInTheStoreAndComeBackInOrder() throws {
        var backlog = RelayBacklog()
        backlog.reloaded([], limit: 10)
        let last = backlog.admit(id: 1, queued: RelayBacklog.queueLimit - 1)
        let overflow = backlog.admit(id: 2, queued: RelayBacklog.queueLimit)
        let later = backlog.admit(id: 3, queued: 0)
        #expect(last && !overflow, "a full queue: 2 stays in the store")
        #expect(!later, "and so does every later one, until the store is read")
        #expect(backlog.reload(queued: RelayBacklog.queueLimit) == nil, "no room yet")
        let read = try #require(backlog.reload(queued: 0))
        #expect(read.after == 1, "from the first one not queued")
        backlog.reloaded(Array(2...Int64(read.limit + 1)), limit: read.limit)
        #expect(backlog.inStore, "a full page: more may wait")
        #expect(backlog.reload(queued: 0)?.after == Int64(read.limit + 1))
    }
}
