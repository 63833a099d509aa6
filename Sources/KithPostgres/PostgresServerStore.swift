import KithStore
import KithWire
import Logging
import NIOConcurrencyHelpers
import NIOCore
import PostgresNIO

/// `ServerStore` in a PostgreSQL database, for several `kith server` instances on one database
/// (`kith server --store postgresql://…`). Same tables and rules as `SQLiteServerStore`
/// (`PostgresSchema`), created or migrated when opened; every call commits before it returns.
///
/// Instances share the database, so what SQLite's single writer made safe here needs the
/// database's help: a writer that reads and then writes (a new device's ordinal, a contact
/// request, a message's code) runs again when another transaction won the race
/// (`PostgresStatements.transaction`), and the quota's usage rows are kept by triggers in the
/// transaction that stores or deletes a payload.
public final class PostgresServerStore: SharedServerStore {
    let connections: PostgresConnections
    private let logger: Logger
    private let watch = NIOLockedValueBox<StoreWatch?>(nil)

    /// Connects (failing at once if the database cannot be reached) and applies missing schema versions.
    public init(address: PostgresAddress, connections limit: Int = 8, logger: Logger = Logger(label: "kith.store")) throws {
        connections = PostgresConnections(address: address, limit: limit, logger: logger)
        self.logger = logger
        do {
            try migrate()
        } catch {
            connections.close()
            throw error
        }
    }

    deinit {
        watch.withLockedValue { $0 }?.stop()
        connections.close()
    }

    /// How many transactions ran again since this store was opened, by the SQLSTATE of the race
    /// they lost (`40001` serialization, `40P01` deadlock, `23505` a unique key taken first).
    public var lostRaces: [String: Int] { connections.lostRaces.withLockedValue { $0 } }

    /// The schema version this build writes.
    public static var schemaVersion: Int { PostgresSchema.versions.count }

    private func migrate() throws {
        try connections.with { db in
            try db.transaction { db in
                try db.execute("SELECT pg_advisory_xact_lock(\(PostgresSchema.migrationLock))")
                try db.execute("CREATE TABLE IF NOT EXISTS kith_schema (version INTEGER NOT NULL)")
                let current = try db.value("SELECT max(version) FROM kith_schema", as: Int?.self).flatMap { $0 } ?? 0
                guard current <= Self.schemaVersion else {
                    throw PostgresStoreError.schema("the database has schema version \(current), newer than this kith "
                                                    + "(\(Self.schemaVersion)); run the newer kith")
                }
                for version in (current + 1)..<(Self.schemaVersion + 1) {
                    for statement in PostgresSchema.versions[version - 1] { try db.execute(PostgresQuery(unsafeSQL: statement)) }
                    try db.execute("INSERT INTO kith_schema (version) VALUES (\(version))")
                }
            }
        }
    }

    /// Statements each committed on its own (one statement that needs no other to agree with it).
    func autocommit<T>(_ body: (PostgresStatements) throws -> T) throws -> T {
        try connections.with(body)
    }

    /// Statements in one transaction, run again if it lost a race (see the type's comment).
    func transaction<T>(_ body: (PostgresStatements) throws -> T) throws -> T {
        try connections.with { try $0.transaction(body) }
    }

    public func checkpoint() throws {}
    public func checkpointInBackground() throws {}

    // MARK: - Accounts and devices

    public func createAccount(name: String, passwordHash: String, now: UInt64) throws {
        try transaction { db in
            guard try db.rows("SELECT 1 FROM account WHERE name = \(name)").isEmpty else {
                throw StoreError.conflict("account \(name) exists")
            }
            try db.execute("INSERT INTO account (name, passwordHash, createdAtMillis) VALUES (\(name), \(passwordHash), \(Int64(now)))")
        }
    }

    public func passwordHash(account: String) throws -> String? {
        try autocommit { try $0.value("SELECT passwordHash FROM account WHERE name = \(account)", as: String.self) }
    }

    public func registerDevice(_ r: DeviceRegistration, now: UInt64) throws -> DeviceRecord {
        try transaction { db in
            let addresses = Self.join(r.addresses)
            if let row = try db.rows("SELECT \(unescaped: Self.deviceColumns), revoked FROM device WHERE key = \(Self.bytes(r.key))").first {
                let existing = try Self.device(row)
                guard existing.account == r.account else { throw StoreError.conflict("device key belongs to another account") }
                guard try !row.makeRandomAccess()["revoked"].decode(Bool.self) else {
                    throw StoreError.revoked(existing.id)
                }
                try db.execute("""
                    UPDATE device SET name = \(r.name), clientVersion = \(r.clientVersion), addresses = \(addresses),
                        publicAddresses = '', lastSeenMillis = \(Int64(now)) WHERE id = \(existing.id)
                    """)
                return DeviceRecord(id: existing.id, account: r.account, terminalType: existing.terminalType, name: r.name,
                                    key: r.key, clientVersion: r.clientVersion, addresses: r.addresses,
                                    createdAtMillis: existing.createdAtMillis, lastSeenMillis: now)
            }
            // Registrations to one account wait for each other here, so two instances never
            // compute the same ordinal (a race the retry would settle too, at a cost under load).
            try db.execute("SELECT pg_advisory_xact_lock(\(PostgresSchema.registrationLocks), hashtext(\(r.account)))")
            let ordinal = try db.value("""
                SELECT COALESCE(MAX(ordinal), 0) + 1 FROM device WHERE account = \(r.account) AND typeCode = \(r.typeCode)
                """, as: Int.self) ?? 1
            let id = "\(r.account)-\(r.typeCode)-\(ordinal)"
            try db.execute("""
                INSERT INTO device (id, account, terminalType, typeCode, ordinal, name, key, clientVersion, addresses,
                                    createdAtMillis, lastSeenMillis)
                VALUES (\(id), \(r.account), \(Int(r.terminalType.rawValue)), \(r.typeCode), \(ordinal), \(r.name),
                        \(Self.bytes(r.key)), \(r.clientVersion), \(addresses), \(Int64(now)), \(Int64(now)))
                """)
            return DeviceRecord(id: id, account: r.account, terminalType: r.terminalType, name: r.name, key: r.key,
                                clientVersion: r.clientVersion, addresses: r.addresses, createdAtMillis: now, lastSeenMillis: now)
        }
    }

    public func device(id: String) throws -> DeviceRecord? {
        try autocommit { db in
            try db.rows("SELECT \(unescaped: Self.deviceColumns) FROM device WHERE id = \(id) AND NOT revoked").first.map(Self.device)
        }
    }

    /// The two reads sent together, one wait for both.
    public func relayCheckReads(targets: [String], senderAccounts: [String]) throws -> RelayCheckReads {
        try autocommit { db in
            let (devices, rosters) = try db.rows(
                "SELECT \(unescaped: Self.deviceColumns) FROM device WHERE id = ANY(\(Array(Set(targets)))) AND NOT revoked",
                "SELECT DISTINCT ON (account) account, document FROM roster WHERE account = ANY(\(Array(Set(senderAccounts)))) ORDER BY account, seq DESC")
            var latest: [String: [UInt8]] = [:]
            for row in rosters {
                let (account, document) = try row.decode((String, ByteBuffer).self)
                latest[account] = Array(document.readableBytesView)
            }
            return RelayCheckReads(targets: Dictionary(try devices.map(Self.device).map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first }),
                                   rosters: latest)
        }
    }

    public func devices(account: String) throws -> [DeviceRecord] {
        try autocommit { db in
            try db.rows("""
                SELECT \(unescaped: Self.deviceColumns) FROM device WHERE account = \(account) AND NOT revoked ORDER BY typeCode, ordinal
                """).map(Self.device)
        }
    }

    public func touch(deviceID: String, now: UInt64) throws {
        try autocommit { try $0.execute("UPDATE device SET lastSeenMillis = \(Int64(now)) WHERE id = \(deviceID)") }
    }

    public func updateAddresses(deviceID: String, addresses: [String], publicAddresses: [String]) throws {
        try autocommit { db in
            try db.execute("""
                UPDATE device SET addresses = \(Self.join(addresses)), publicAddresses = \(Self.join(publicAddresses)) WHERE id = \(deviceID)
                """)
        }
    }

    public func createSession(tokenHash: [UInt8], deviceID: String, expiresAtMillis: UInt64) throws {
        try autocommit { db in
            try db.execute("""
                INSERT INTO session (tokenHash, deviceID, expiresAtMillis) VALUES (\(Self.bytes(tokenHash)), \(deviceID), \(Int64(expiresAtMillis)))
                """)
        }
    }

    public func session(tokenHash: [UInt8]) throws -> SessionRecord? {
        try autocommit { db in
            try db.rows("SELECT deviceID, expiresAtMillis, revoked FROM session WHERE tokenHash = \(Self.bytes(tokenHash))").first.map { row in
                let (device, expires, revoked) = try row.decode((String, Int64, Bool).self)
                return SessionRecord(deviceID: device, expiresAtMillis: UInt64(expires), revoked: revoked)
            }
        }
    }

    public func revokeSession(tokenHash: [UInt8]) throws {
        try autocommit { try $0.execute("UPDATE session SET revoked = true WHERE tokenHash = \(Self.bytes(tokenHash))") }
    }

    // MARK: - Relay

    public func commitRelays(_ items: [RelayItem], deleting acknowledged: [(id: Int64, to: String)], quota: RelayQuota?,
                             now: UInt64) throws -> [RelayOutcome] {
        try transaction { db in
            // One receiver's payloads commit one transaction after another, whichever instance
            // commits them, so their ids increase in commit order (`watch`): a lock per device,
            // taken before any id is drawn. Every device whose queue or quota usage this
            // transaction changes is locked — the receivers and senders of its items and of the
            // payloads it deletes — all in one statement, in the locks' order, before any row is
            // touched: two instances' committers (one storing payloads for a device, the other
            // deleting what that device acknowledged) then take turns instead of deadlocking on
            // the usage rows the triggers update, which cost a second each (PostgreSQL's
            // deadlock_timeout) and held every relay of both instances. A deadlock with another
            // writer (an account removed) is retried like any lost race.
            // The statements are the schema's two functions (`relay_commit_prepare`, then
            // `relay_commit_store`), sent each with the transaction's BEGIN or COMMIT: every
            // statement is a round trip to the database, and those, not the work, were a
            // commit's time. Deletions come first: they make room under the quota for the items.
            let locked = Set(items.flatMap { [$0.to, $0.from] } + acknowledged.map(\.to))
            let devices = Set(items.flatMap { [$0.to, $0.from] }).sorted()
            let prepared = try db.rows("""
                SELECT * FROM relay_commit_prepare(\(Array(locked)), \(acknowledged.map(\.id)), \(acknowledged.map(\.to)),
                                                   \(devices), \(Int32(items.count)))
                """)
            // For each device of the items: where its queue stands (the highest id it holds,
            // read after the locks, so no payload for it committed before is above it; with
            // those just deleted, which were in it before, so the new payloads follow on from
            // where they were), whether it still has a device row (its account may have been
            // removed meanwhile: SQLite learns that from the foreign key, here it is asked), and
            // what it has queued as receiver and as sender — then kept as the `relay_usage`
            // triggers keep it, item by item.
            var queuedUpTo: [String: Int64] = [:]
            for (id, receiver) in acknowledged { queuedUpTo[receiver] = max(queuedUpTo[receiver] ?? 0, id) }
            var present: Set<String> = []
            var usage: [String: RelayQuota.Usage] = [:]
            var ids: [Int64] = []
            func key(_ device: String, _ role: String) -> String { role + "\u{0}" + device }
            for row in prepared {
                let (device, last, exists, receiving, receivingBytes, sending, sendingBytes, drawn)
                    = try row.decode((String, Int64?, Bool, Int?, Int?, Int?, Int?, [Int64]).self)
                queuedUpTo[device] = max(queuedUpTo[device] ?? 0, last ?? 0)
                if exists { present.insert(device) }
                if let receiving, let receivingBytes { usage[key(device, "receiver")] = RelayQuota.Usage(count: receiving, bytes: receivingBytes) }
                if let sending, let sendingBytes { usage[key(device, "sender")] = RelayQuota.Usage(count: sending, bytes: sendingBytes) }
                ids = drawn
            }
            guard ids.count == items.count else { throw StoreError.conflict("drew \(ids.count) ids for \(items.count) relayed payloads") }
            // Each item's fate decided in order (an item over the quota, or for a receiver gone, is
            // the one not stored); the stored ones take the ids in the group's order.
            var unused = ids[...]
            let outcomes: [RelayOutcome] = items.map { item in
                if let quota, let refusal = quota.refusal(adding: item.payload.count, to: item.to,
                                                          waiting: usage[key(item.to, "receiver")] ?? RelayQuota.Usage(),
                                                          from: item.from, queued: usage[key(item.from, "sender")] ?? RelayQuota.Usage()) {
                    return .refused(refusal)
                }
                guard present.contains(item.to) else { return .receiverGone }
                for (device, role) in [(item.to, "receiver"), (item.from, "sender")] {
                    usage[key(device, role), default: RelayQuota.Usage()].count += 1
                    usage[key(device, role), default: RelayQuota.Usage()].bytes += item.payload.count
                }
                return .stored(id: unused.popFirst()!)
            }
            var stored: [String: [RelayRecord]] = [:]
            var rows: [RelayRecord] = []
            for (item, outcome) in zip(items, outcomes) {
                if case .stored(let id) = outcome {
                    stored[item.to, default: []].append(RelayRecord(id: id, item))
                    rows.append(RelayRecord(id: id, item))
                }
            }
            guard !rows.isEmpty else { return outcomes }
            // Heard by every instance's `StoreWatch` once this transaction commits, in the order sent.
            let notices = stored.keys.sorted().flatMap { receiver in
                RelayNotice.payloads(receiver: receiver, after: queuedUpTo[receiver] ?? 0, records: stored[receiver]!)
            }
            db.send("""
                SELECT relay_commit_store(\(rows.map(\.id)), \(rows.map(\.item.from)), \(rows.map(\.item.to)),
                                          \(rows.map { Self.bytes($0.item.payload) }), \(rows.map { $0.item.code.map(String.init) ?? "" }),
                                          \(rows.map { $0.item.scope ?? "" }), \(rows.map { $0.item.fromAccount ?? "" }), \(Int64(now)), \(StoreWatch.channel), \(notices))
                """)
            return outcomes
        }
    }

    // MARK: - Instances sharing the store

    public func setPresence(deviceID: String, online: Bool, instance: String) throws {
        try autocommit { db in
            if online {
                try db.execute("""
                    INSERT INTO device_presence VALUES (\(deviceID), \(instance))
                    ON CONFLICT (deviceID) DO UPDATE SET instance = excluded.instance
                    """)
            } else {
                try db.execute("DELETE FROM device_presence WHERE deviceID = \(deviceID) AND instance = \(instance)")
            }
        }
    }

    public func onlineElsewhere(_ deviceIDs: [String], besides instance: String, seenSince since: UInt64) throws -> Set<String> {
        guard !deviceIDs.isEmpty else { return [] }
        return try autocommit { db in
            Set(try db.rows("""
                SELECT p.deviceID FROM device_presence p JOIN server_instance i ON i.id = p.instance
                WHERE p.deviceID = ANY(\(deviceIDs)) AND p.instance <> \(instance) AND i.seenAtMillis >= \(Int64(since))
                """).map { try $0.decode(String.self) })
        }
    }

    public func tell(_ word: InstanceWord, by instance: String) throws {
        let (channel, payload) = word.notification(by: instance)
        try autocommit { try $0.execute("SELECT pg_notify(\(channel), \(payload))") }
    }

    public var isWatching: Bool { watch.withLockedValue { $0?.isListening ?? false } }

    public func watch(besides instance: String, relays: @escaping @Sendable (RelayNotice?) -> Void,
                      heard: @escaping @Sendable (InstanceWord) -> Void) {
        let started = StoreWatch(connections: connections, instance: instance, logger: logger, relays: relays, heard: heard)
        let earlier = watch.withLockedValue { watch in defer { watch = started }; return watch }
        earlier?.stop()
        started.start()
    }

    public func pendingRelays(to: String, after: Int64, limit: Int) throws -> [RelayRecord] {
        try autocommit { db in
            try db.rows("""
                SELECT id, sender, receiver, payload, code, scope, fromAccount FROM relay
                WHERE receiver = \(to) AND id > \(after) ORDER BY id LIMIT \(limit)
                """).map { row in
                let (id, from, to, payload, code, scope, fromAccount) = try row.decode(
                    (Int64, String, String, ByteBuffer, Int64?, String?, String?).self)
                return RelayRecord(id: id, from: from, to: to, payload: Array(payload.readableBytesView), code: code, scope: scope,
                                   fromAccount: fromAccount)
            }
        }
    }

    public func messageCode(sender: String, messageID: [UInt8], now: UInt64) throws -> Int64 {
        try transaction { db in
            let id = Self.bytes(messageID)
            if let code = try db.value("SELECT code FROM message_code WHERE sender = \(sender) AND messageID = \(id)", as: Int64.self) {
                return code
            }
            guard let code = try db.value("""
                INSERT INTO message_code (sender, messageID, createdAtMillis) VALUES (\(sender), \(id), \(Int64(now))) RETURNING code
                """, as: Int64.self) else { throw StoreError.conflict("no code was given") }
            return code
        }
    }

    // MARK: - Contacts

    public func contacts(account: String) throws -> [ContactRecord] {
        try autocommit { db in
            try db.rows("""
                SELECT CASE WHEN low = \(account) THEN high ELSE low END AS other, requester, accepted
                FROM contact WHERE low = \(account) OR high = \(account) ORDER BY other
                """).map { row in
                let (other, requester, accepted) = try row.decode((String, String, Bool).self)
                return ContactRecord(account: other, state: accepted ? .contact : requester == account ? .requested : .incoming)
            }
        }
    }

    public func requestContact(from: String, to: String, now: UInt64) throws -> ContactState {
        try transaction { db in
            guard try !db.rows("SELECT 1 FROM account WHERE name = \(to)").isEmpty else { throw StoreError.notFound("no account \(to)") }
            let (low, high) = Self.ordered(from, to)
            let existing = try db.rows("SELECT requester, accepted FROM contact WHERE low = \(low) AND high = \(high)").first
            let theirs = try db.value("SELECT COUNT(*) FROM contact WHERE low = \(to) OR high = \(to)", as: Int.self) ?? 0
            if theirs >= ContactRecord.maxPerAccount, existing == nil {
                throw StoreError.conflict("\(to) has as many contacts and requests as an account may have")
            }
            if let existing {
                let (requester, accepted) = try existing.decode((String, Bool).self)
                if accepted { return .contact }
                if requester == from { return .requested }
                try db.execute("UPDATE contact SET accepted = true WHERE low = \(low) AND high = \(high)")
                return .contact
            }
            try db.execute("INSERT INTO contact (low, high, requester, createdAtMillis) VALUES (\(low), \(high), \(from), \(Int64(now)))")
            return .requested
        }
    }

    public func acceptContact(account: String, requester: String) throws {
        try transaction { db in
            let (low, high) = Self.ordered(account, requester)
            guard try db.execute("""
                UPDATE contact SET accepted = true WHERE low = \(low) AND high = \(high) AND requester = \(requester)
                """) > 0 else { throw StoreError.notFound("no request from \(requester)") }
        }
    }

    public func removeContact(_ a: String, _ b: String) throws -> Bool {
        let (low, high) = Self.ordered(a, b)
        return try autocommit { try $0.execute("DELETE FROM contact WHERE low = \(low) AND high = \(high)") > 0 }
    }

    // MARK: - Helpers

    static func ordered(_ a: String, _ b: String) -> (String, String) { a < b ? (a, b) : (b, a) }

    static func bytes(_ bytes: [UInt8]) -> ByteBuffer { ByteBuffer(bytes: bytes) }

    static let deviceColumns = "id, account, terminalType, name, key, clientVersion, addresses, publicAddresses, createdAtMillis, lastSeenMillis"

    /// A device from a row of `deviceColumns` (in that order; more columns may follow).
    static func device(_ row: PostgresRow) throws -> DeviceRecord {
        let (id, account, type, name, key, version, addresses, publicAddresses, created, seen) = try row.decode(
            (String, String, Int, String, ByteBuffer, String, String, String, Int64, Int64).self)
        return DeviceRecord(id: id, account: account, terminalType: TerminalType(rawValue: UInt8(clamping: type)), name: name,
                            key: Array(key.readableBytesView), clientVersion: version, addresses: split(addresses),
                            publicAddresses: split(publicAddresses), createdAtMillis: UInt64(created), lastSeenMillis: UInt64(seen))
    }

    /// Addresses are HOST:PORT strings without spaces (checked on the wire), kept space-separated.
    static func join(_ addresses: [String]) -> String { addresses.joined(separator: " ") }
    static func split(_ text: String) -> [String] { text.split(separator: " ").map(String.init) }
}

