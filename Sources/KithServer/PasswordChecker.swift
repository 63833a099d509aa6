import KithCrypto
import NIOConcurrencyHelpers
import NIOPosix

/// argon2id off the paths that serve sessions. A password check takes tens of milliseconds of a
/// core by design; on the shared task pool (two threads here) a hundred logins at once left the
/// server answering nothing else, pings included, for seconds. Here checks run on their own
/// threads, and when more than `queueLimit` wait the next is refused at once (`busy`), which the
/// session answers `rateLimited`: a client retries later, as it does after failed logins.
final class PasswordChecker: Sendable {
    struct Busy: Error {}

    private let pool: NIOThreadPool
    private let queueLimit: Int
    private let waiting = NIOLockedValueBox(0)

    init(threads: Int, queueLimit: Int) {
        pool = NIOThreadPool(numberOfThreads: max(1, threads))
        pool.start()
        self.queueLimit = queueLimit
    }

    /// Whether `password` matches `stored`; for an unknown account (nil) the same work is done
    /// against a decoy and the answer is false.
    func verify(_ password: String, against stored: String?) async throws -> Bool {
        try await run { PasswordHash.verify(password, against: stored ?? PasswordHash.decoy) && stored != nil }
    }

    func hash(_ password: String, cost: PasswordHash.Cost) async throws -> String {
        try await run { try PasswordHash.hash(password, cost: cost) }
    }

    private func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        let admitted = waiting.withLockedValue { count -> Bool in
            guard count < queueLimit else { return false }
            count += 1
            return true
        }
        guard admitted else { throw Busy() }
        defer { waiting.withLockedValue { $0 -= 1 } }
        return try await pool.runIfActive(work)
    }

    func shutdown() async {
        try? await pool.shutdownGracefully()
    }
}
