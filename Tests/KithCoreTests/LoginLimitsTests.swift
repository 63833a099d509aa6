import KithCore
import Testing

/// Who may have a password checked (spec §Sessions, Login step 2).
@Suite struct LoginLimitsTests {
    static let settings = LoginLimits.Settings(perAccountAndAddress: 3, perAddress: 5, perAccount: 6, windowMillis: 1000)

    func attempt(_ limits: inout LoginLimits, _ account: String, _ address: String, at now: UInt64) -> LoginLimits.Attempt? {
        if case .check(let attempt) = limits.begin(account: account, address: address, now: now) { return attempt }
        return nil
    }

    @Test func attemptsCountBeforeTheirCheckSoConcurrentOnesCannotOvershoot() {
        var limits = LoginLimits(Self.settings)
        // Three at once, none finished: the fourth waits.
        let started = (0..<3).compactMap { _ in attempt(&limits, "alice", "a", at: 0) }
        #expect(started.count == 3)
        #expect(limits.begin(account: "alice", address: "a", now: 0) == .wait(millis: 1000))
        // One of them was right: the pair starts afresh.
        limits.succeeded(started[0])
        #expect(attempt(&limits, "alice", "a", at: 1) != nil)
    }

    /// The instances of one server keep one limit: what another checked counts here.
    @Test func checksOnAnotherInstanceCountHere() {
        var limits = LoginLimits(Self.settings)
        let here = attempt(&limits, "alice", "a", at: 0)!
        limits.failed(here)
        limits.checkedElsewhere(account: "alice", address: "a", right: false, now: 1)
        limits.checkedElsewhere(account: "alice", address: "a", right: false, now: 2)
        #expect(limits.begin(account: "alice", address: "a", now: 3) == .wait(millis: 997), "until the first failure leaves the window")
        // The owner got in elsewhere: the pair starts afresh here too.
        limits.checkedElsewhere(account: "alice", address: "a", right: true, now: 4)
        #expect(attempt(&limits, "alice", "a", at: 5) != nil)
        // Failures elsewhere count for the address across accounts as well.
        for account in ["b", "c", "d", "e"] { limits.checkedElsewhere(account: account, address: "x", right: false, now: 6) }
        let fifth = attempt(&limits, "f", "x", at: 7)
        #expect(fifth != nil)
        if let fifth { limits.failed(fifth) }
        #expect(attempt(&limits, "g", "x", at: 8) == nil, "the address's five failures, four of them elsewhere")
    }

    @Test func aLimitReachedOnlyByChecksUnderWayAsksForAShortWait() {
        var limits = LoginLimits(.init(perAccountAndAddress: 3, perAddress: 5, perAccount: 6, windowMillis: 300_000))
        // Five devices behind one address log in at once: the sixth waits only as long as a check takes.
        let started = (0..<5).compactMap { attempt(&limits, "acct\($0)", "nat", at: 0) }
        #expect(started.count == 5)
        #expect(limits.begin(account: "acct9", address: "nat", now: 0) == .wait(millis: LoginLimits.underWayWaitMillis))
        // Their checks end: two right, three wrong. Three failures and no check under way: room for two more.
        limits.succeeded(started[0])
        limits.succeeded(started[1])
        for attempt in started.dropFirst(2) { limits.failed(attempt) }
        #expect(attempt(&limits, "acct9", "nat", at: 1) != nil)
        #expect(attempt(&limits, "acct9", "nat", at: 1) != nil)
        // Five failures of which two are under way: still a short wait; once they fail, the window's.
        let pending = (0..<2).compactMap { _ in attempt(&limits, "acct8", "nat", at: 2) }
        #expect(pending.isEmpty, "the limit holds: no new check while it is reached")
        guard case .wait(let short) = limits.begin(account: "acct8", address: "nat", now: 2) else { Issue.record("let through"); return }
        #expect(short == LoginLimits.underWayWaitMillis)
    }

    @Test func wrongPasswordsThatEndedGetTheWholeWindow() {
        var limits = LoginLimits(.init(perAccountAndAddress: 3, perAddress: 5, perAccount: 6, windowMillis: 300_000))
        let started = (0..<3).compactMap { _ in attempt(&limits, "alice", "x", at: 0) }
        for attempt in started { limits.failed(attempt) }
        #expect(limits.begin(account: "alice", address: "x", now: 10) == .wait(millis: 299_990))
    }

    @Test func oneAddressGuessingDoesNotLockTheOwnerOutElsewhere() {
        var limits = LoginLimits(Self.settings)
        for _ in 0..<3 { _ = attempt(&limits, "alice", "attacker", at: 0) }
        #expect(attempt(&limits, "alice", "attacker", at: 0) == nil)
        #expect(attempt(&limits, "alice", "home", at: 0) != nil, "the owner at another address")
    }

    @Test func theAccountLimitSlowsOnlyAddressesThatFailedForIt() {
        var limits = LoginLimits(Self.settings)
        // Six guesses at alice from three addresses reach the account's limit.
        for address in ["x", "y", "z"] { for _ in 0..<2 { _ = attempt(&limits, "alice", address, at: 0) } }
        #expect(attempt(&limits, "alice", "x", at: 0) == nil, "an address that failed for alice waits")
        #expect(attempt(&limits, "alice", "home", at: 0) != nil, "an address without failures for alice still may")
        #expect(attempt(&limits, "bob", "x", at: 0) != nil, "another account from the same address")
    }

    @Test func oneAddressGuessingAtManyAccountsIsSlowed() {
        var limits = LoginLimits(Self.settings)
        for name in ["a1", "a2", "a3", "a4", "a5"] { _ = attempt(&limits, name, "spray", at: 0) }
        #expect(attempt(&limits, "a6", "spray", at: 10) == nil)
        #expect(limits.begin(account: "a6", address: "spray", now: 10) == .wait(millis: 990))
        #expect(attempt(&limits, "a6", "spray", at: 1000) != nil, "the window passed")
    }

    @Test func aWithdrawnAttemptGivesBackOnlyItsOwnCount() {
        var limits = LoginLimits(Self.settings)
        _ = attempt(&limits, "alice", "a", at: 0)
        _ = attempt(&limits, "alice", "a", at: 1)
        let third = attempt(&limits, "alice", "a", at: 2)
        #expect(attempt(&limits, "alice", "a", at: 3) == nil)
        limits.withdraw(third!)
        #expect(attempt(&limits, "alice", "a", at: 3) != nil, "one place back")
        #expect(attempt(&limits, "alice", "a", at: 3) == nil, "the two failures stay")
    }
}
