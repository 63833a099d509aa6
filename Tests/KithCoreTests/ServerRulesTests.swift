import KithWire
import Testing
@testable import KithCore

@Suite struct ServerRulesTests {
    @Test func rateLimiterOpensAgainWhenTheWindowPasses() {
        var limiter = RateLimiter(limit: 3, windowMillis: 1000)
        for t in [0, 100, 200] as [UInt64] {
            #expect(limiter.retryAfter("alice", now: t) == nil)
            limiter.recordFailure("alice", now: t)
        }
        #expect(limiter.retryAfter("alice", now: 300) == 700)
        #expect(limiter.retryAfter("bob", now: 300) == nil)
        #expect(limiter.retryAfter("alice", now: 1000) == nil)  // the first failure left the window
        limiter.recordFailure("alice", now: 1000)
        #expect(limiter.retryAfter("alice", now: 1001) == 99)
        limiter.reset("alice")
        #expect(limiter.retryAfter("alice", now: 1001) == nil)
    }

    @Test(arguments: ["alice", "a", "bob.smith", "x_1", "235683"])
    func goodAccountNames(_ name: String) { #expect(AccountRules.problem(withName: name) == nil) }

    @Test(arguments: ["", "Alice", "al ice", ".alice", "_x", "ålice", String(repeating: "a", count: 65), "a-b"])
    func badAccountNames(_ name: String) { #expect(AccountRules.problem(withName: name) != nil) }

    @Test func terminalTypesSpellTheirIdCodes() {
        #expect(TerminalType.allCases.map(\.code) == ["PC", "MP", "TV", "WB", "SV"])
        #expect(TerminalType(name: "Mobile") == .mobile)
        #expect(TerminalType(name: "fridge") == nil)
        #expect(TerminalType(rawValue: 9).code == nil, "a type the schema does not define has no id code")
    }
}

@Suite struct BackoffTests {
    @Test func growsWithJitterUpToTheCapAndResets() {
        var backoff = Backoff(baseMillis: 100, capMillis: 1000)
        #expect(backoff.nextDelayMillis { 0 } == 50)
        #expect(backoff.nextDelayMillis { 1 } == 200)
        #expect(backoff.nextDelayMillis { 0.5 } == 300)
        for _ in 0..<10 { _ = backoff.nextDelayMillis { 1 } }
        #expect(backoff.nextDelayMillis { 1 } == 1000)
        #expect(backoff.nextDelayMillis { 0 } == 500)
        backoff.reset()
        #expect(backoff.nextDelayMillis { 1 } == 100)
    }
}
