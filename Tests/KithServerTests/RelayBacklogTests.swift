import Testing
@testable import KithServer

/// A session's relayed payloads: what is queued, what waits in the store, and that nothing is
/// skipped or reordered between the two.
@Suite struct RelayBacklogTests {
    /// `reload`, which marks a read as under way, outside an `#expect` (whose arguments are constants).
    static func reload(_ backlog: inout RelayBacklog, queued: Int) -> (after: Int64, limit: Int)? {
        backlog.reload(queued: queued)
    }

    @Test func aNewSessionReadsWhatWaitedBeforeTakingNewPayloads() throws {
        var backlog = RelayBacklog()
        let early = backlog.admit(id: 7, queued: 0)
        #expect(!early, "payload 7 arrived while the store's backlog is unread: it stays there")
        let read = try #require(Self.reload(&backlog, queued: 2))
        #expect(read.after == 0 && read.limit == RelayBacklog.queueLimit - 2)
        backlog.reloaded([3, 5, 7], limit: read.limit)
        #expect(!backlog.inStore && backlog.queuedUpTo == 7)
        #expect(Self.reload(&backlog, queued: 0) == nil, "nothing left in the store")
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
        let read = try #require(Self.reload(&backlog, queued: 0))
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
        #expect(Self.reload(&backlog, queued: RelayBacklog.queueLimit) == nil, "no room yet")
        let read = try #require(Self.reload(&backlog, queued: 0))
        #expect(read.after == 1, "from the first one not queued")
        backlog.reloaded(Array(2...Int64(read.limit + 1)), limit: read.limit)
        #expect(backlog.inStore, "a full page: more may wait")
        #expect(Self.reload(&backlog, queued: 0)?.after == Int64(read.limit + 1))
    }

    @Test func whatIsCommittedWhileAReadIsUnderWayIsReadNext() throws {
        // The store is a round trip away: 6 and 7 are committed while the read of 1...5 is out.
        var backlog = RelayBacklog()
        let read = try #require(Self.reload(&backlog, queued: 0))
        #expect(Self.reload(&backlog, queued: 0) == nil, "one read at a time")
        let six = backlog.admit(id: 6, queued: 0)
        let seven = backlog.follow(after: 6, ids: [7], queued: 0)
        #expect(!six && seven.isEmpty, "not queued ahead of the read")
        backlog.reloaded([1, 2, 3, 4, 5], limit: read.limit)
        #expect(backlog.inStore, "the read may have missed them")
        let next = try #require(Self.reload(&backlog, queued: 5))
        #expect(next.after == 5)
        backlog.reloaded([6, 7], limit: next.limit)
        #expect(!backlog.inStore && backlog.queuedUpTo == 7)
    }

    @Test func aFailedReadIsTriedAgainAtTheNextOccasion() throws {
        var backlog = RelayBacklog()
        _ = try #require(Self.reload(&backlog, queued: 0))
        backlog.readFailed()
        #expect(!backlog.reading && backlog.inStore)
        #expect(Self.reload(&backlog, queued: 0)?.after == 0)
    }

    @Test func noticesThatFollowOnAreQueuedAndAGapIsRead() throws {
        var backlog = RelayBacklog()
        backlog.reloaded([4, 5], limit: 10)
        #expect(backlog.follow(after: 5, ids: [8, 9], queued: 0) == [8, 9], "nothing for this device between 5 and 8")
        #expect(backlog.follow(after: 3, ids: [9], queued: 0).isEmpty, "heard already (read, or by another notice)")
        #expect(backlog.follow(after: 2, ids: [10], queued: 0) == [10], "what was committed before is below what was written")
        // 11 was committed on another instance and its notice is late: 12 does not follow on.
        #expect(backlog.follow(after: 11, ids: [12], queued: 0).isEmpty)
        #expect(backlog.inStore)
        let read = try #require(Self.reload(&backlog, queued: 0))
        #expect(read.after == 10)
        backlog.reloaded([11, 12], limit: read.limit)
        #expect(backlog.follow(after: 10, ids: [11], queued: 0).isEmpty, "the late notice: read already")
        #expect(backlog.follow(after: 12, ids: [13], queued: 0) == [13])
    }

    @Test func noticesForASlowReceiverStayInTheStore() throws {
        var backlog = RelayBacklog()
        backlog.reloaded([], limit: 10)
        let admitted = backlog.follow(after: 0, ids: [1, 2, 3], queued: RelayBacklog.queueLimit - 2)
        #expect(admitted == [1, 2], "the queue is full after two")
        #expect(backlog.inStore && backlog.follow(after: 3, ids: [4], queued: 0).isEmpty)
    }
}
