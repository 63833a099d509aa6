import NIOCore
import NIOPosix

/// Where an event loop's reads of the store run. A store that is a file on this machine
/// (SQLite) answers in microseconds and is read on the loop itself; a store a round trip away
/// (PostgreSQL, shared by instances) is read on threads of its own, so the loop — which carries
/// every session of the server — never waits on the network for the queue reads of sessions
/// (when every device comes back at once, or the store's watch was cut and every online
/// receiver reads its queue). The relay checks' reads have `BatchedRelayChecks`.
enum StoreReads: Sendable {
    case onTheLoop
    case offTheLoop(NIOThreadPool)

    /// Threads for reads off the loop: reads wait on the network, not the CPU, and a few at once
    /// keep the store's connections busy without crowding out the committer.
    static let threads = 4

    /// Reads off the loop, on threads of their own (started here; `shutdown` stops them).
    static func offTheLoop() -> StoreReads {
        let threads = NIOThreadPool(numberOfThreads: Self.threads)
        threads.start()
        return .offTheLoop(threads)
    }

    /// `body`'s result on `loop`: already there when it was read on the loop (callers called on
    /// the loop go on at once, as if the read were inline).
    func run<T: Sendable>(on loop: any EventLoop, _ body: @escaping @Sendable () throws -> T) -> EventLoopFuture<T> {
        switch self {
        case .onTheLoop: loop.makeCompletedFuture(Result { try body() })
        case .offTheLoop(let threads): threads.runIfActive(eventLoop: loop, body)
        }
    }

    /// Stops the threads, if any.
    func shutdown() async {
        if case .offTheLoop(let threads) = self { try? await threads.shutdownGracefully() }
    }
}
