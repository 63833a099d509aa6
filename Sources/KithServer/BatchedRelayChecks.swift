import KithStore
import KithWire
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// The checks of relayed payloads against a store a round trip away (a shared PostgreSQL),
/// many at once: each needs the target's device record and the sender's account's roster,
/// and one read of each for every payload waiting costs two round trips where a read per
/// payload cost two each — on a busy server most of the statements it sent. Checks that come
/// while a batch is read wait for the next, on a thread of its own (never an event loop).
/// The decisions are `ServerContext.relayCheck`'s, the same as on one instance.
final class BatchedRelayChecks: Sendable {
    private struct Waiting {
        let request: RelaySend
        let device: DeviceRecord
        let server: ServerContext
        let promise: EventLoopPromise<RelayCheck>
    }
    private struct Pending {
        var waiting: [Waiting] = []
        var reading = false
    }

    private let store: any ServerStore
    private let thread = NIOThreadPool(numberOfThreads: 1)
    private let pending = NIOLockedValueBox(Pending())

    init(store: any ServerStore) {
        self.store = store
        thread.start()
    }

    /// `request` from `device` checked, on `loop`.
    func check(_ request: RelaySend, from device: DeviceRecord, in server: ServerContext, on loop: any EventLoop)
        -> EventLoopFuture<RelayCheck> {
        let promise = loop.makePromise(of: RelayCheck.self)
        let start = pending.withLockedValue { pending in
            pending.waiting.append(Waiting(request: request, device: device, server: server, promise: promise))
            defer { pending.reading = true }
            return !pending.reading
        }
        if start { thread.submit { _ in self.checkBatches() } }
        return promise.futureResult
    }

    /// On the thread: checks what waits, batch after batch, until nothing does.
    private func checkBatches() {
        while true {
            let batch = pending.withLockedValue { pending in
                defer { pending.waiting = [] }
                if pending.waiting.isEmpty { pending.reading = false }
                return pending.waiting
            }
            guard !batch.isEmpty else { return }
            // On a store error, each is checked one by one instead, as on one instance (where a
            // store error refuses the payload).
            let read = try? store.relayCheckReads(targets: batch.map(\.request.to), senderAccounts: batch.map(\.device.account))
            for waiting in batch {
                let server = waiting.server, device = waiting.device
                let check = if let read {
                    server.relayCheck(waiting.request, from: device, linkedInto: nil, target: read.targets[waiting.request.to],
                                      roster: { server.rosters.current(account: device.account, stored: read.rosters[device.account]) })
                } else {
                    server.relayCheck(waiting.request, from: device, linkedInto: nil)
                }
                waiting.promise.succeed(check)
            }
        }
    }

    func shutdown() async {
        try? await thread.shutdownGracefully()
    }
}
