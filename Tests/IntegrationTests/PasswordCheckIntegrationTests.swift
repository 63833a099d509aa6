import Foundation
import KithCore
import KithNet
import KithTestSupport
import KithWire
import Testing

/// Password checks under attack, against a real server (spec §Sessions, Login step 2): argon2id
/// on its own threads, failures counted before the hash, limits per account and address that
/// never lock the owner out at another address. Other machines are played by 127.0.0.2–5.
@Suite(.serialized, .fewAtATime) struct PasswordCheckIntegrationTests {
    /// A hundred logins for unknown names from four addresses at once (each costs a full
    /// argon2id against the decoy): an open session's pings are answered throughout.
    @Test func aHundredLoginsAtOnceDoNotStallOpenSessions() async throws {
        let server = try await ServerHarness.start()
        let owner = TestDevice()
        let session = try await owner.connect(server)
        _ = try await owner.login(session, account: "alice", password: "correct horse")

        let attackers = try await withThrowingTaskGroup(of: ClientConnection.self) { group in
            for index in 0..<100 {
                group.addTask { try await TestDevice().connect(server, from: "127.0.0.\(2 + index % 4)") }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let started = ContinuousClock.now
        async let answers = withThrowingTaskGroup(of: ErrorCode?.self) { group in
            for (index, connection) in attackers.enumerated() {
                group.addTask {
                    errorCode(try await TestDevice().login(connection, account: "nobody\(index)", password: "guess guess"))
                }
            }
            return try await group.reduce(into: [ErrorCode?]()) { $0.append($1) }
        }
        var pings: [Duration] = []
        while ContinuousClock.now - started < .seconds(2) || pings.count < 20 {
            let sent = ContinuousClock.now
            let pong = try await session.request(.ping(.init(nonce: UInt64(pings.count))), timeout: .seconds(10)).message
            #expect(pong == .pong(.init(nonce: UInt64(pings.count))))
            pings.append(ContinuousClock.now - sent)
            try await Task.sleep(for: .milliseconds(20))
        }
        let results = try await answers
        let sorted = pings.sorted()
        print("password flood: 100 logins for unknown names from 4 addresses; \(pings.count) pings on an open session, "
              + "p50 \(sorted[sorted.count / 2]), max \(sorted.last!); answers: "
              + "\(results.filter { $0 == .unauthenticated }.count) unauthenticated, \(results.filter { $0 == .rateLimited }.count) busy")
        #expect(results.allSatisfy { $0 == .unauthenticated || $0 == .rateLimited }, "\(results)")
        for connection in attackers { await connection.close() }
    }

    /// Thirty wrong passwords at once from one address get exactly ten checks; the owner, at
    /// another address, logs in during the attack; the attacking address waits even with the
    /// right password.
    @Test func concurrentGuessesCannotOvershootAndTheOwnerIsNotLockedOut() async throws {
        let server = try await ServerHarness.start()
        let guesses = try await withThrowingTaskGroup(of: ErrorCode?.self) { group in
            for _ in 0..<30 {
                group.addTask {
                    let device = TestDevice()
                    let connection = try await device.connect(server, from: "127.0.0.2")
                    defer { Task { await connection.close() } }
                    return errorCode(try await device.login(connection, account: "alice", password: "guess guess"))
                }
            }
            return try await group.reduce(into: [ErrorCode?]()) { $0.append($1) }
        }
        #expect(guesses.filter { $0 == .unauthenticated }.count == 10, "\(guesses)")
        #expect(guesses.filter { $0 == .rateLimited }.count == 20)

        let owner = TestDevice()
        let home = try await owner.connect(server, from: "127.0.0.1")
        guard case .loginResult = try await owner.login(home, account: "alice", password: "correct horse") else {
            Issue.record("the owner was locked out by another address's guesses"); return
        }
        let thief = TestDevice()
        let attacker = try await thief.connect(server, from: "127.0.0.2")
        #expect(errorCode(try await thief.login(attacker, account: "alice", password: "correct horse")) == .rateLimited)
        withExtendedLifetime(server) {}
    }
}
