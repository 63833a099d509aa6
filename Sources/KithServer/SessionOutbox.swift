import KithStore
import KithWire
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// What the server sends one device's session without being asked — device lists, contacts,
/// rosters, offers, relayed payloads — written on its channel's event loop, in the order it was
/// handed in. A relayed payload goes from the group committer straight to this loop: no actor
/// and no task on its way.
///
/// Which committed payloads are written at once and which wait in the store (a slow receiver,
/// or a session whose first lists are not out yet) is the session's `RelayBacklog`, kept here on
/// the loop; what is written and not yet taken by the socket counts as queued.
final class SessionOutbox: @unchecked Sendable {
    let deviceID: String
    private let channel: any Channel
    private let store: any ServerStore
    private let reads: StoreReads
    private let logger: Logger
    // Touched only on the channel's event loop.
    private var backlog = RelayBacklog()
    /// Envelopes handed to the channel whose write has not completed.
    private var unwritten = 0
    /// Relays flow: the session's first lists and documents went out before.
    private var relaysStarted = false

    init(deviceID: String, channel: any Channel, store: any ServerStore, reads: StoreReads, logger: Logger) {
        self.deviceID = deviceID
        self.channel = channel
        self.store = store
        self.reads = reads
        self.logger = logger
    }

    /// Writes `envelopes` after everything handed in before (from any thread); then closes the
    /// channel if `thenClose`.
    func send(_ envelopes: [Envelope], thenClose: Bool = false) {
        channel.eventLoop.execute {
            for envelope in envelopes { self.write(envelope) }
            self.channel.flush()
            if thenClose { self.channel.close(promise: nil) }
        }
    }

    /// Starts the relayed payloads, after the session's first lists and documents: what waits
    /// in the store first, then what is committed from now on.
    func startRelays() {
        channel.eventLoop.execute {
            self.relaysStarted = true
            self.reload()
        }
    }

    /// Payloads just committed for this device, in commit order (from the committer's thread).
    func admit(_ records: [RelayRecord]) {
        channel.eventLoop.execute {
            var wrote = false
            for record in records where self.backlog.admit(id: record.id, queued: self.unwritten) {
                self.write(Self.delivery(record))
                wrote = true
            }
            if wrote { self.channel.flush() }
        }
    }

    /// What the shared store said of payloads committed for this device (by any instance, from
    /// the store's watch): written at once when they follow on from what was written, else read
    /// from the store with whatever came between.
    func follow(_ notice: RelayNotice) {
        channel.eventLoop.execute {
            guard let records = notice.records else {
                self.backlog.storeHasMore()
                self.reload()
                return
            }
            let admitted = Set(self.backlog.follow(after: notice.after, ids: records.map(\.id), queued: self.unwritten))
            for record in records where admitted.contains(record.id) { self.write(Self.delivery(record)) }
            if !admitted.isEmpty { self.channel.flush() }
            self.reload()
        }
    }

    /// Payloads for this device may have been committed where neither `admit` nor `follow`
    /// heard of them (the store's watch was cut): read the queue after what was written (from
    /// any thread).
    func recheckStore() {
        channel.eventLoop.execute {
            self.backlog.storeHasMore()
            self.reload()
        }
    }

    /// A stored payload as the receiver gets it: wrapped for the linked account it is for.
    static func delivery(_ record: RelayRecord) -> Envelope {
        let deliver = Envelope(.relayDeliver(.init(relayID: UInt64(record.id), from: record.from, payload: record.payload,
                                                   code: record.code.map(UInt64.init), fromAccount: record.fromAccount)))
        return record.scope.map { Presence.wrapped(deliver, for: $0) } ?? deliver
    }

    private func write(_ envelope: Envelope) {
        unwritten += 1
        let written = channel.eventLoop.makePromise(of: Void.self)
        written.futureResult.whenComplete { result in
            self.unwritten -= 1
            if case .failure = result {
                // The connection is gone (or refused what we wrote): close it, so the device's
                // next session starts over from the store.
                self.channel.close(promise: nil)
            } else if self.unwritten == 0 {
                // Not from here: a write's promise can complete inside a later write of the same
                // batch (the pipeline flushed on its own), and a reload from there would put the
                // next page ahead of the rest of this one. After the batch, the conditions are
                // checked again.
                self.channel.eventLoop.execute { self.reload() }
            }
        }
        channel.write(envelope, promise: written)
    }

    /// Reads what waits in the store, if anything does, there is room and no read is under way,
    /// and writes it when the read is back (on the loop).
    private func reload() {
        guard relaysStarted, channel.isActive, let read = backlog.reload(queued: unwritten) else { return }
        let store = store, deviceID = deviceID
        reads.run(on: channel.eventLoop) { try store.pendingRelays(to: deviceID, after: read.after, limit: read.limit) }.whenComplete { result in
            switch result {
            case .success(let records):
                self.backlog.reloaded(records.map(\.id), limit: read.limit)
                for record in records { self.write(Self.delivery(record)) }
                if !records.isEmpty { self.channel.flush() }
                // Payloads committed meanwhile, or more than a page: read on.
                self.reload()
            case .failure(let error):
                self.backlog.readFailed()
                self.logger.error("relay queue of \(self.deviceID) unreadable: \(error)")
            }
        }
    }
}

/// The outbox of each online device, for the group committer to hand payloads to without
/// `Presence` (which keeps it up to date as devices come and go).
final class Outboxes: Sendable {
    private let byDevice = NIOLockedValueBox<[String: SessionOutbox]>([:])

    func set(_ outbox: SessionOutbox?, for deviceID: String) {
        byDevice.withLockedValue { $0[deviceID] = outbox }
    }

    /// Payloads just committed, in commit order: each to its receiver's outbox, if it is online;
    /// otherwise it waits in the store for the device's next session.
    func admit(_ records: [RelayRecord]) {
        var byReceiver: [String: [RelayRecord]] = [:]
        for record in records { byReceiver[record.to, default: []].append(record) }
        let outboxes = byDevice.withLockedValue { outboxes in byReceiver.keys.compactMap { outboxes[$0] } }
        for outbox in outboxes { outbox.admit(byReceiver[outbox.deviceID] ?? []) }
    }

    /// A shared store's notice of payloads committed for a receiver (by any instance), or nil
    /// when some may have been missed: the receiver online here follows on, or every online
    /// receiver reads its queue.
    func follow(_ notice: RelayNotice?) {
        guard let notice else {
            for outbox in byDevice.withLockedValue({ Array($0.values) }) { outbox.recheckStore() }
            return
        }
        byDevice.withLockedValue { $0[notice.receiver] }?.follow(notice)
    }
}
