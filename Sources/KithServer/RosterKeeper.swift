import KithCore
import KithStore
import KithWire
import Logging
import NIOConcurrencyHelpers

/// The server's part in rosters and policies (Protocol/roster.md §Distribution, §Revoke): it
/// stores the documents the primary publishes and hands them to every device of the account.
/// It checks each one by the devices' own rules, as an observer, before storing it, so a forged
/// or stale document never displaces the real one; but nothing depends on the check: devices
/// check again. One actor, so two publishes for one account cannot both pass against the same
/// stored roster.
actor RosterKeeper {
    /// A refused publish or revoke: the code and message of the session's `ErrorMessage`.
    struct Refusal: Error {
        let code: ErrorCode
        let reason: String

        static func forbidden(_ reason: String) -> Refusal { Refusal(code: .forbidden, reason: reason) }
        static func conflict(_ reason: String) -> Refusal { Refusal(code: .conflict, reason: reason) }
        static func failed(_ reason: String) -> Refusal { Refusal(code: .internalError, reason: reason) }
    }

    private let store: any ServerStore
    private let logger: Logger
    /// Books restored from stored rosters, by account, with the bytes each was restored from;
    /// under a lock, so that a relay checked on an event loop reads them without the actor.
    private let restored = NIOLockedValueBox<[String: (bytes: [UInt8], book: RosterBook)]>([:])
    /// Past this many accounts the books are dropped and restored again as they are asked for.
    static let restoredLimit = 10_000

    init(store: any ServerStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    /// What a device is sent after each login or resume: every kept roster, then the latest,
    /// then each stored policy (rosters first: a policy is checked against its roster).
    func documents(account: String) -> [Envelope] {
        let rosters = ((try? store.rosters(account: account)) ?? []).compactMap { try? RosterSigning.decodeDocument($0) }
        let policies = ((try? store.policies(account: account)) ?? []).compactMap { try? RosterSigning.decodeDocument($0.document) }
        return rosters.map { Envelope(.rosterUpdate(.init(roster: $0))) } + policies.map { Envelope(.policyUpdate(.init(policy: $0))) }
    }

    /// Checks and stores a roster `publisher` sent; returns it to pass on.
    func publish(roster document: SignedDocument, from publisher: DeviceRecord) throws(Refusal) {
        var book = try observer(account: publisher.account)
        let isFirst = book.current == nil
        switch book.consider(document) {
        case .unchanged:
            return
        case .refused(let why):
            if case .notNewer = why { throw .conflict("the server holds a roster as new or newer: \(why)") }
            logger.notice("refused a roster from \(publisher.id): \(why)")
            throw .forbidden("roster refused: \(why)")
        case .accepted(let change):
            if isFirst {
                let first = try? store.firstDeviceID(account: publisher.account)
                let master = (try? store.master(of: publisher.account)) ?? nil
                switch ServerRules.firstRoster(change.current, publishedBy: .init(publisher), firstDeviceID: first, master: master) {
                case .allowed:
                    break
                case .refused(let code, let reason):
                    logger.notice("refused a first roster of \(publisher.account) from \(publisher.id)")
                    throw Refusal(code: code, reason: reason)
                }
            }
            do {
                try store.storeRoster(account: publisher.account, document: try RosterSigning.encode(document),
                                      kept: isFirst || change.primaryChanged || change.byRecovery)
            } catch {
                logger.error("cannot store a roster of \(publisher.account): \(error)")
                throw .failed("the server could not store the roster")
            }
            logger.info("\(publisher.account): \(change.current.label) from \(publisher.id), \(change.current.members.count) device(s)")
        }
    }

    /// Checks a policy against the stored roster and stores it.
    func publish(policy document: SignedDocument, from publisher: DeviceRecord) throws(Refusal) {
        let roster = try observer(account: publisher.account)
        var book = PolicyBook(account: publisher.account)
        for stored in (try? store.policies(account: publisher.account)) ?? [] {
            if let held = try? RosterSigning.decodeDocument(stored.document) { try? book.restore(held) }
        }
        switch book.consider(document, roster: roster) {
        case .unchanged:
            return
        case .refused(let why):
            if case .notNewer = why { throw .conflict("the server holds a policy as new or newer: \(why)") }
            logger.notice("refused a policy from \(publisher.id): \(why)")
            throw .forbidden("policy refused: \(why)")
        case .accepted(let accepted, _):
            do {
                try store.storePolicy(account: publisher.account, deviceID: accepted.policy.deviceID,
                                      document: try RosterSigning.encode(document))
            } catch {
                logger.error("cannot store a policy of \(publisher.account): \(error)")
                throw .failed("the server could not store the policy")
            }
            logger.info("\(publisher.account): policy \(accepted.policy.version) for \(accepted.policy.deviceID)")
        }
    }

    /// Whether `caller` may revoke `deviceID`, a device of `targetAccount` (nil: no such device):
    /// `ServerRules.revoke` asked against the stored roster.
    func mayRevoke(_ deviceID: String, targetAccount: String?, caller: DeviceRecord) throws(Refusal) {
        let book = try observer(account: caller.account)
        switch ServerRules.revoke(deviceID, targetAccount: targetAccount, by: .init(caller), roster: book.current) {
        case .allowed: return
        case .refused(let code, let reason): throw Refusal(code: code, reason: reason)
        }
    }

    /// Whether `caller` may remove the link between its account and `account`:
    /// `ServerRules.unlink` asked against the stored roster of the caller's account.
    func mayRemoveLink(with account: String, link: (master: String, linked: String)?, caller: DeviceRecord) throws(Refusal) {
        let book = try observer(account: caller.account)
        let linked = try link.map { link throws(Refusal) in try observer(account: link.linked).current } ?? nil
        switch ServerRules.unlink(account, by: .init(caller), roster: book.current, link: link, linkedRoster: linked) {
        case .allowed: return
        case .refused(let code, let reason): throw Refusal(code: code, reason: reason)
        }
    }

    /// Whether `caller` may make `account` the master of its account: `ServerRules.setMaster`
    /// asked against the stored rosters of the caller's account and of each linked under it.
    func maySetMaster(_ account: String, linked: [String], caller: DeviceRecord) throws(Refusal) {
        let own = try observer(account: caller.account).current
        var rosters: [(account: String, roster: ValidRoster?)] = []
        for name in linked { rosters.append((name, try observer(account: name).current)) }
        switch ServerRules.setMaster(account, by: .init(caller), roster: own, linked: rosters) {
        case .allowed: return
        case .refused(let code, let reason): throw Refusal(code: code, reason: reason)
        }
    }

    /// The account's stored roster, checked; nil before its first (or if it does not restore).
    /// From any thread: it only reads.
    nonisolated func current(account: String) -> ValidRoster? {
        current(account: account, stored: try? store.latestRoster(account: account))
    }

    /// As `current(account:)`, with the stored roster's bytes read already (`nil`: none), as a
    /// read of several accounts' at once gives them.
    nonisolated func current(account: String, stored bytes: [UInt8]?) -> ValidRoster? {
        (try? observer(account: account, stored: bytes))?.current
    }

    /// The stored roster in an observer's book (no holder). Restoring one checks its
    /// signatures, and every relayed payload asks for its sender's: the book is kept with the
    /// bytes it was restored from, and restored again only when the stored bytes differ (a new
    /// roster, whoever stored it).
    private nonisolated func observer(account: String) throws(Refusal) -> RosterBook {
        try observer(account: account, stored: try? store.latestRoster(account: account))
    }

    private nonisolated func observer(account: String, stored bytes: [UInt8]?) throws(Refusal) -> RosterBook {
        guard let bytes else { return RosterBook(account: account, holder: nil) }
        if let cached = restored.withLockedValue({ $0[account] }), cached.bytes == bytes { return cached.book }
        do {
            let book = try RosterBook(account: account, holder: nil, restoring: try RosterSigning.decodeDocument(bytes))
            restored.withLockedValue { restored in
                if restored.count >= Self.restoredLimit { restored.removeAll(keepingCapacity: true) }
                restored[account] = (bytes, book)
            }
            return book
        } catch {
            logger.error("the stored roster of \(account) does not restore: \(error)")
            throw .failed("the server's roster of this account is damaged")
        }
    }
}
