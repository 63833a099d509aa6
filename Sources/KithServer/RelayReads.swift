import KithStore
import NIOCore
import NIOPosix

/// How a session's outbox reads its receiver's queue. A store that is a file on this machine
/// (SQLite) answers in microseconds and is read on the event loop; a store a round trip away
/// (PostgreSQL, shared by instances) is read on threads of its own, so no event loop waits on
/// the network — when every device comes back at once, or the store's watch was cut and every
/// online receiver reads its queue, those reads would otherwise hold up every session on the loop.
enum RelayReads: Sendable {
    case onTheLoop(any ServerStore)
    case offTheLoop(any ServerStore, NIOThreadPool)

    /// Threads for reads off the loop: reads wait on the network, not the CPU, and a few at once
    /// keep the store's connections busy without crowding them out for the committer.
    static let threads = 4

    /// The oldest `limit` payloads after `after` for `deviceID`; `done` is called on `loop`.
    func read(_ deviceID: String, after: Int64, limit: Int, on loop: any EventLoop,
              done: @escaping @Sendable (Result<[RelayRecord], any Error>) -> Void) {
        switch self {
        case .onTheLoop(let store):
            done(Result { try store.pendingRelays(to: deviceID, after: after, limit: limit) })
        case .offTheLoop(let store, let threads):
            threads.runIfActive(eventLoop: loop) { try store.pendingRelays(to: deviceID, after: after, limit: limit) }
                .whenComplete(done)
        }
    }

    /// Stops the threads, if any.
    func shutdown() async {
        if case .offTheLoop(_, let threads) = self { try? await threads.shutdownGracefully() }
    }
}
