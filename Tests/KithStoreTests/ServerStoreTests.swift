import Foundation
import Synchronization
import KithPostgres
import KithStore
import KithTestSupport
import KithWire
import Testing

@Suite struct ServerStoreTests {
    /// A SQLite store, for the tests of what only it has (its write-ahead log).
    static func sqliteStore() throws -> SQLiteServerStore {
        try SQLiteServerStore(path: temporaryDirectory("server-store").appendingPathComponent("server.sqlite").path)
    }

    static func registration(_ key: UInt8, type: TerminalType = .pc, code: String = "PC", account: String = "alice") -> DeviceRegistration {
        DeviceRegistration(account: account, terminalType: type, typeCode: code, name: "device \(key)",
                           key: [UInt8](repeating: key, count: 32), clientVersion: "kith/test", addresses: ["127.0.0.1:1"])
    }

    @Test(arguments: StoreKind.allCases) func deviceIdsCountPerTypeAndComeBackForTheSameKey(kind: StoreKind) throws {
        let (store, reopen) = try kind.make("server-store")
        try store.createAccount(name: "alice", passwordHash: "h", now: 1)
        #expect(try store.registerDevice(Self.registration(1), now: 2).id == "alice-PC-1")
        #expect(try store.registerDevice(Self.registration(2), now: 3).id == "alice-PC-2")
        #expect(try store.registerDevice(Self.registration(3, type: .mobile, code: "MP"), now: 4).id == "alice-MP-1")
        var again = Self.registration(1)
        again.name = "renamed"
        #expect(try store.registerDevice(again, now: 5).id == "alice-PC-1")
        // Reopening the file keeps everything.
        let reopened = try reopen()
        #expect(try reopened.devices(account: "alice").map(\.id) == ["alice-MP-1", "alice-PC-1", "alice-PC-2"])
        #expect(try reopened.device(id: "alice-PC-1")?.name == "renamed")
    }

    @Test(arguments: StoreKind.allCases) func accountsAndKeysDoNotCollide(kind: StoreKind) throws {
        let (store, _) = try kind.make("server-store")
        try store.createAccount(name: "alice", passwordHash: "h", now: 1)
        try store.createAccount(name: "bob", passwordHash: "h", now: 1)
        #expect(throws: StoreError.self) { try store.createAccount(name: "alice", passwordHash: "x", now: 2) }
        _ = try store.registerDevice(Self.registration(1), now: 2)
        #expect(throws: StoreError.self) { _ = try store.registerDevice(Self.registration(1, account: "bob"), now: 3) }
        #expect(try store.passwordHash(account: "carol") == nil)
    }

    @Test(arguments: StoreKind.allCases) func sessionsExpireAndRevoke(kind: StoreKind) throws {
        let (store, _) = try kind.make("server-store")
        try store.createAccount(name: "alice", passwordHash: "h", now: 1)
        _ = try store.registerDevice(Self.registration(1), now: 2)
        try store.createSession(tokenHash: [1, 2, 3], deviceID: "alice-PC-1", expiresAtMillis: 100)
        #expect(try store.session(tokenHash: [1, 2, 3]) == SessionRecord(deviceID: "alice-PC-1", expiresAtMillis: 100, revoked: false))
        try store.revokeSession(tokenHash: [1, 2, 3])
        #expect(try store.session(tokenHash: [1, 2, 3])?.revoked == true)
        #expect(try store.session(tokenHash: [9]) == nil)
    }

    @Test(arguments: StoreKind.allCases) func relayQueueKeepsOrderUntilDeleted(kind: StoreKind) throws {
        let (store, reopen) = try kind.make("server-store")
        try store.createAccount(name: "alice", passwordHash: "h", now: 1)
        _ = try store.registerDevice(Self.registration(1), now: 2)
        _ = try store.registerDevice(Self.registration(2), now: 2)
        let ids = try (0..<5).map { try store.enqueueRelay(from: "alice-PC-1", to: "alice-PC-2", payload: [UInt8($0)], code: nil, scope: nil, fromAccount: nil, now: 3) }
        #expect(ids == ids.sorted())
        try store.deleteRelays([(ids[0], "alice-PC-2")])
        try store.deleteRelays([(ids[1], "alice-PC-1")])  // not that device's: nothing happens
        let reopened = try reopen()
        #expect(try reopened.pendingRelays(to: "alice-PC-2", after: 0, limit: 10).map(\.payload) == [[1], [2], [3], [4]])
        #expect(try reopened.pendingRelays(to: "alice-PC-2", after: ids[2], limit: 1).map(\.id) == [ids[3]])
    }

    @Test(arguments: StoreKind.allCases) func aGroupCommitAnswersEachItemAndARefusalStopsNoOther(kind: StoreKind) throws {
        let (store, reopen) = try kind.make("server-store")
        try store.createAccount(name: "alice", passwordHash: "h", now: 1)
        _ = try store.registerDevice(Self.registration(1), now: 2)
        _ = try store.registerDevice(Self.registration(2), now: 2)
        let quota = RelayQuota(perReceiver: .init(count: 2, bytes: 1000), perSender: .init(count: 10, bytes: 10_000))
        let items = [
            RelayItem(from: "alice-PC-1", to: "alice-PC-2", payload: [1], scope: "carol"),
            RelayItem(from: "alice-PC-1", to: "alice-PC-9", payload: [2]),  // no such device (revoked meanwhile)
            RelayItem(from: "alice-PC-1", to: "alice-PC-2", payload: [3], code: 7),
            RelayItem(from: "alice-PC-1", to: "alice-PC-2", payload: [4]),  // the receiver's third: over its quota
            RelayItem(from: "alice-PC-2", to: "alice-PC-1", payload: [5], fromAccount: "bob"),
        ]
        let outcomes = try store.commitRelays(items, deleting: [], quota: quota, now: 3)
        guard case .stored(let first) = outcomes[0], case .stored(let third) = outcomes[2], case .stored(let fifth) = outcomes[4] else {
            Issue.record("not stored: \(outcomes)"); return
        }
        #expect(outcomes[1] == .receiverGone)
        if case .refused = outcomes[3] {} else { Issue.record("the third for alice-PC-2 was not refused: \(outcomes[3])") }
        #expect(first < third && third < fifth, "ids increase in the order given")
        let reopened = try reopen()
        #expect(try reopened.pendingRelays(to: "alice-PC-2", after: 0, limit: 10)
                == [RelayRecord(id: first, items[0]), RelayRecord(id: third, items[2])])
        #expect(try reopened.pendingRelays(to: "alice-PC-1", after: 0, limit: 10) == [RelayRecord(id: fifth, items[4])])
    }

    @Test(arguments: StoreKind.allCases) func contactsGoFromRequestToContactAndAway(kind: StoreKind) throws {
        let (store, _) = try kind.make("server-store")
        for name in ["alice", "bob", "carol"] { try store.createAccount(name: name, passwordHash: "h", now: 1) }
        #expect(throws: StoreError.notFound("no account dave")) { _ = try store.requestContact(from: "alice", to: "dave", now: 2) }
        #expect(try store.requestContact(from: "alice", to: "bob", now: 2) == .requested)
        #expect(try store.requestContact(from: "alice", to: "bob", now: 3) == .requested)  // asking twice changes nothing
        #expect(try store.contacts(account: "alice") == [ContactRecord(account: "bob", state: .requested)])
        #expect(try store.contacts(account: "bob") == [ContactRecord(account: "alice", state: .incoming)])
        #expect(throws: StoreError.self) { try store.acceptContact(account: "alice", requester: "bob") }  // alice asked, not bob
        try store.acceptContact(account: "bob", requester: "alice")
        #expect(try store.contacts(account: "alice") == [ContactRecord(account: "bob", state: .contact)])
        // Asking someone who asked you already makes you contacts at once.
        #expect(try store.requestContact(from: "carol", to: "alice", now: 4) == .requested)
        #expect(try store.requestContact(from: "alice", to: "carol", now: 5) == .contact)
        #expect(try store.removeContact("bob", "alice"))
        #expect(try !store.removeContact("bob", "alice"))
        #expect(try store.contacts(account: "alice") == [ContactRecord(account: "carol", state: .contact)])
    }

    @Test(arguments: StoreKind.allCases) func everyCopyOfAMessageGetsOneCodeAndCodesIncrease(kind: StoreKind) throws {
        let (store, _) = try kind.make("server-store")
        let first = try store.messageCode(sender: "bob-PC-1", messageID: Array(repeating: 1, count: 16), now: 1)
        #expect(try store.messageCode(sender: "bob-PC-1", messageID: Array(repeating: 1, count: 16), now: 2) == first)
        let second = try store.messageCode(sender: "bob-PC-1", messageID: Array(repeating: 2, count: 16), now: 3)
        let other = try store.messageCode(sender: "bob-PC-2", messageID: Array(repeating: 1, count: 16), now: 4)
        #expect(second == first + 1 && other == second + 1)
    }
}

/// What may wait on the server per receiving and per sending device (spec §Relay, Quotas).
@Suite struct RelayQuotaStoreTests {
    @Test(arguments: StoreKind.allCases) func aQuotaRefusesInTheStoringTransactionAndFreesUpAsPayloadsAreTaken(kind: StoreKind) throws {
        let (store, _) = try kind.make("quota")
        try store.createAccount(name: "alice", passwordHash: "x", now: 1)
        for (id, key) in [("alice-PC-1", UInt8(1)), ("alice-MP-1", 2), ("alice-TV-1", 3)] {
            _ = try store.registerDevice(DeviceRegistration(account: "alice", terminalType: .pc, typeCode: String(id.dropFirst(6).prefix(2)),
                                                            name: id, key: [UInt8](repeating: key, count: 32), clientVersion: "t",
                                                            addresses: []), now: 2)
        }
        let devices = try store.devices(account: "alice").map(\.id)
        let (pc, mp, tv) = (devices[0], devices[1], devices[2])
        let quota = RelayQuota(perReceiver: .init(count: 3, bytes: 1000), perSender: .init(count: 4, bytes: 10_000))
        func send(_ from: String, _ to: String, bytes: Int = 10) throws -> Int64 {
            try store.enqueueRelay(from: from, to: to, payload: [UInt8](repeating: 7, count: bytes), code: nil, scope: nil,
                                   fromAccount: nil, quota: quota, now: 3)
        }
        // Three for the phone, then its queue is full, whoever sends.
        let ids = try (0..<3).map { _ in try send(pc, mp) }
        #expect(throws: StoreError.self) { _ = try send(pc, mp) }
        #expect(throws: StoreError.self) { _ = try send(tv, mp) }
        // The laptop may queue one more, for the TV; then its own share is full.
        _ = try send(pc, tv)
        #expect(throws: StoreError.self) { _ = try send(pc, tv) }
        // Bytes count too.
        #expect(throws: StoreError.self) { _ = try send(tv, pc, bytes: 1001) }
        // The phone takes one: a place is free for it again, and in the laptop's share.
        try store.deleteRelays([(ids[0], mp)])
        _ = try send(pc, mp)
        #expect(try store.pendingRelays(to: mp, after: 0, limit: 10).count == 3)
        // Without a quota nothing is checked (the operator's own tools).
        _ = try store.enqueueRelay(from: pc, to: mp, payload: [1], code: nil, scope: nil, fromAccount: nil, now: 4)
    }
}

/// `kith server status`: each instance's latest report, and only those heard from lately.
@Suite struct InstanceReportStoreTests {
    @Test(arguments: StoreKind.allCases) func theLatestReportOfEachInstanceAndOnlyRecentOnes(kind: StoreKind) throws {
        let (store, reopen) = try kind.make("instances-store")
        let one = InstanceReport(id: "aa", address: "10.0.0.1:7400", startedAtMillis: 1, seenAtMillis: 10, sessions: 0)
        var two = InstanceReport(id: "bb", address: "10.0.0.2:7400", startedAtMillis: 2, seenAtMillis: 10, sessions: 5)
        try store.recordInstance(one)
        try store.recordInstance(two)
        two.seenAtMillis = 20
        two.sessions = 7
        try reopen().recordInstance(two)
        #expect(try store.instances(seenSince: 0) == [one, two])
        #expect(try store.instances(seenSince: 15) == [two], "one has not reported since 10")
    }
}

/// Two handles on one file or database (two server instances on one PostgreSQL, later): writers
/// that read and then write race, and the store settles each race as one writer would.
@Suite struct ServerStoreRaceTests {
    @Test(arguments: StoreKind.allCases) func concurrentRegistrationsGetDistinctIdsAndOneCodePerMessage(kind: StoreKind) throws {
        let (first, reopen) = try kind.make("race-store")
        let second = try reopen()
        try first.createAccount(name: "alice", passwordHash: "h", now: 1)
        let stores = [first, second]
        struct Outcomes { var ids: [String] = [], codes: [Int64] = [], failures: [String] = [] }
        let outcomes = Mutex(Outcomes())
        DispatchQueue.concurrentPerform(iterations: 40) { n in
            let store = stores[n % 2]
            do {
                let id = try store.registerDevice(ServerStoreTests.registration(UInt8(n + 1)), now: 2).id
                let code = try store.messageCode(sender: "bob-PC-1", messageID: [UInt8](repeating: 9, count: 16), now: 3)
                outcomes.withLock { $0.ids.append(id); $0.codes.append(code) }
            } catch {
                outcomes.withLock { $0.failures.append("\(error)") }
            }
        }
        let (registered, given, failures) = outcomes.withLock { ($0.ids, $0.codes, $0.failures) }
        #expect(failures.isEmpty, "\(failures)")
        #expect(Set(registered) == Set((1...40).map { "alice-PC-\($0)" }))
        #expect(Set(given).count == 1, "one code for one message, whichever store gave it: \(Set(given))")
    }

    /// Two instances' committers at once, as when every sender is on one instance and every
    /// receiver on the other: one stores payloads for the receivers, the other deletes what they
    /// acknowledged, each group in its own order. They take turns on the devices they share and
    /// never deadlock (each deadlock stalls both for PostgreSQL's deadlock_timeout, a second).
    @Test func committersOfPayloadsAndOfAcknowledgementsDoNotDeadlock() throws {
        guard PostgresCluster.isInstalled else { return }
        let (made, reopen) = try StoreKind.postgresql.make("race-store")
        let storing = try #require(made as? PostgresServerStore), deleting = try #require(try reopen() as? PostgresServerStore)
        let pairs = 16
        for n in 0..<pairs {
            try storing.createAccount(name: "pair\(n)", passwordHash: "h", now: 1)
            _ = try storing.registerDevice(ServerStoreTests.registration(UInt8(2 * n + 1), account: "pair\(n)"), now: 2)
            _ = try storing.registerDevice(ServerStoreTests.registration(UInt8(2 * n + 2), account: "pair\(n)"), now: 2)
        }
        let quota = RelayQuota(perReceiver: .init(count: 10_000, bytes: 1 << 30), perSender: .init(count: 10_000, bytes: 1 << 30))
        let rounds = 40
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 2) { role in
            var random = SystemRandomNumberGenerator()
            do {
                for _ in 0..<rounds {
                    if role == 0 {
                        let items = (0..<pairs).map { n in RelayItem(from: "pair\(n)-PC-1", to: "pair\(n)-PC-2", payload: [UInt8(n)]) }
                        _ = try storing.commitRelays(items.shuffled(using: &random), deleting: [], quota: quota, now: 3)
                    } else {
                        let waiting = try (0..<pairs).flatMap { n in
                            try deleting.pendingRelays(to: "pair\(n)-PC-2", after: 0, limit: 100).map { (id: $0.id, to: $0.to) }
                        }
                        _ = try deleting.commitRelays([], deleting: waiting.shuffled(using: &random), quota: quota, now: 3)
                    }
                }
            } catch {
                failures.withLock { $0.append("\(error)") }
            }
        }
        #expect(failures.withLock { $0 }.isEmpty)
        let deadlocks = (storing.lostRaces["40P01"] ?? 0) + (deleting.lostRaces["40P01"] ?? 0)
        #expect(deadlocks == 0, "deadlocks retried: \(deadlocks)")
    }
}
