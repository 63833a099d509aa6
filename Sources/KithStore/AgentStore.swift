import Foundation
import GRDB
import KithWire

/// One device's durable state: its sessions with servers, and for each account it holds the
/// device list, notes, contacts, messages, read state, rosters, policies and transfers. Every
/// method commits before it returns, so the agent acknowledges nothing a crash could still lose.
///
/// Everything that belongs to an account carries an **owner** (`AgentStore.owner(account:invite:)`:
/// the account and its server's key), and every such method reads and writes the current owner's
/// rows only: two accounts on one device never see each other's data. The agent gives each account
/// its own view (`view(owner:)`) of one open store; the store it opened first reads the default
/// account's rows (the one logged in last).
public final class AgentStore: Sendable {
    let database: DatabaseQueue
    private let current: CurrentOwner

    public init(path: String) throws {
        database = try openDatabase(path: path, migrator: Self.migrator)
        current = CurrentOwner(try database.read { db in try Self.defaultOwner(db) })
    }

    private init(database: DatabaseQueue, owner: String) {
        self.database = database
        current = CurrentOwner(owner)
    }

    /// Runs `body`'s reads without wrapping them in a transaction. A transaction adds four
    /// statements to every read here (query-only on and off, begin and end) and buys nothing:
    /// the agent is its store's only writer (the profile's lock), and its one connection runs one
    /// closure at a time, so no write can come between two reads of one closure.
    func reading<T>(_ body: (Database) throws -> T) throws -> T {
        try database.unsafeRead(body)
    }

    /// The same store, reading and writing `owner`'s rows: what each account of the agent holds.
    public func view(owner: String) -> AgentStore { AgentStore(database: database, owner: owner) }

    /// The accounts with a session, the default one first: the ones the agent connects at start.
    public func loggedInOwners() throws -> [String] {
        try reading { db in
            let preferred = try Self.defaultOwner(db)
            // A linked account's page rides on its master's session and has no token of its own.
            let owners = try String.fetchAll(db, sql: """
                SELECT owner FROM account_session WHERE token IS NOT NULL AND length(token) > 0 AND expiresAtMillis IS NOT NULL
                ORDER BY owner
                """)
            return owners.filter { $0 == preferred } + owners.filter { $0 != preferred }
        }
    }

    /// The account a request that names none is for: the one logged in last.
    public func defaultOwner() throws -> String { try reading { db in try Self.defaultOwner(db) } }

    private static func defaultOwner(_ db: Database) throws -> String {
        try String.fetchOne(db, sql: "SELECT value FROM setting WHERE key = 'owner'") ?? ""
    }

    /// The account whose rows this store reads and writes.
    public var owner: String { current.value }

    /// Makes `owner` the current account (it is remembered across restarts by `saveSession`).
    public func use(owner: String) { current.value = owner }

    /// The owner of an account's rows: the account name and its server's key, as the invite gives
    /// it (lower-case hex), so the same name on two servers is two owners.
    public static func owner(account: String, invite: String) -> String {
        account + "@" + (invite.split(separator: "#").last.map { $0.lowercased() } ?? "")
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE setting (key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL);
                CREATE TABLE device (
                    id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL, terminalType INTEGER NOT NULL,
                    key BLOB NOT NULL, online INTEGER NOT NULL, lastSeenMillis INTEGER NOT NULL,
                    clientVersion TEXT NOT NULL
                );
                CREATE TABLE outbox (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT, noteID BLOB NOT NULL UNIQUE, receiver TEXT NOT NULL,
                    text TEXT NOT NULL, sentAtMillis INTEGER NOT NULL, relayed INTEGER NOT NULL DEFAULT 0
                );
                CREATE TABLE inbox (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT, noteID BLOB NOT NULL UNIQUE, sender TEXT NOT NULL,
                    text TEXT NOT NULL, sentAtMillis INTEGER NOT NULL, receivedAtMillis INTEGER NOT NULL
                );
                """)
        }
        migrator.registerMigration("v2 contacts, messages, read state") { db in
            // The outbox carries notes, copies of messages to contacts' devices, and viewed-notices.
            try db.execute(sql: """
                CREATE TABLE outbox_v2 (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    kind TEXT NOT NULL,
                    receiver TEXT NOT NULL,
                    itemID BLOB,
                    text TEXT NOT NULL DEFAULT '',
                    body BLOB,
                    sentAtMillis INTEGER NOT NULL,
                    relayed INTEGER NOT NULL DEFAULT 0,
                    code INTEGER,
                    failure TEXT,
                    UNIQUE (kind, itemID, receiver)
                );
                INSERT INTO outbox_v2 (seq, kind, receiver, itemID, text, sentAtMillis, relayed)
                    SELECT seq, 'note', receiver, noteID, text, sentAtMillis, relayed FROM outbox;
                DROP TABLE outbox;
                ALTER TABLE outbox_v2 RENAME TO outbox;
                CREATE INDEX outbox_pending ON outbox(relayed, seq);
                ALTER TABLE device ADD COLUMN addresses TEXT NOT NULL DEFAULT '';
                ALTER TABLE device ADD COLUMN publicAddresses TEXT NOT NULL DEFAULT '';
                CREATE TABLE contact (account TEXT PRIMARY KEY NOT NULL, state INTEGER NOT NULL);
                CREATE TABLE contact_device (
                    id TEXT PRIMARY KEY NOT NULL, account TEXT NOT NULL, name TEXT NOT NULL,
                    terminalType INTEGER NOT NULL, key BLOB NOT NULL, online INTEGER NOT NULL,
                    lastSeenMillis INTEGER NOT NULL, clientVersion TEXT NOT NULL
                );
                CREATE INDEX contact_device_by_account ON contact_device(account);
                CREATE TABLE message (
                    code INTEGER PRIMARY KEY NOT NULL, messageID BLOB NOT NULL, sender TEXT NOT NULL,
                    senderAccount TEXT NOT NULL, text TEXT NOT NULL, sentAtMillis INTEGER NOT NULL,
                    receivedAtMillis INTEGER NOT NULL, viewedAtMillis INTEGER, viewedBy TEXT
                );
                CREATE INDEX message_by_account ON message(senderAccount, code);
                -- Unread counts are asked for on every message and notice: only unread rows are indexed.
                CREATE INDEX message_unread ON message(senderAccount) WHERE viewedAtMillis IS NULL;
                CREATE TABLE held_notice (
                    id INTEGER PRIMARY KEY AUTOINCREMENT, code INTEGER NOT NULL, sentAtMillis INTEGER NOT NULL,
                    sender TEXT NOT NULL, clipMode INTEGER, clipLimit INTEGER, clip BLOB,
                    viewedAtMillis INTEGER NOT NULL, viewedBy TEXT NOT NULL, expiresAtMillis INTEGER NOT NULL
                );
                CREATE UNIQUE INDEX held_notice_once ON held_notice(code, sender, sentAtMillis, viewedBy);
                CREATE TABLE read_mark (
                    account TEXT PRIMARY KEY NOT NULL, upToCode INTEGER NOT NULL,
                    viewedAtMillis INTEGER NOT NULL, viewedBy TEXT NOT NULL
                );
                """)
        }
        migrator.registerMigration("v3 transfers") { db in
            // One row per file transfer, either way; `record` is the agent's JSON of it (plan,
            // landing, per-file progress), rewritten whole at each step (AgentStore+Transfers).
            try db.execute(sql: """
                CREATE TABLE transfer (
                    id BLOB PRIMARY KEY NOT NULL,
                    outgoing INTEGER NOT NULL,
                    finished INTEGER NOT NULL,
                    createdMillis INTEGER NOT NULL,
                    record BLOB NOT NULL
                );
                CREATE INDEX transfer_open ON transfer(finished, createdMillis);
                """)
        }
        migrator.registerMigration("v4 transfer chunk hashes") { db in
            // The receiver's verified chunk hashes, appended as chunks verify: rewriting them with
            // the record at every commit would grow with the square of the file's size.
            try db.execute(sql: """
                CREATE TABLE transfer_chunk (
                    id BLOB NOT NULL, file INTEGER NOT NULL, chunk INTEGER NOT NULL, hash BLOB NOT NULL,
                    PRIMARY KEY (id, file, chunk)
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v5 roster and policies") { db in
            // Signed documents this device accepted (Protocol/roster.md §What a device stores):
            // kind 1 the held roster (subject ''), kind 2 the latest policy of each device (subject: its id).
            try db.execute(sql: """
                CREATE TABLE signed_document (
                    kind INTEGER NOT NULL, subject TEXT NOT NULL, document BLOB NOT NULL,
                    PRIMARY KEY (kind, subject)
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v6 contacts' rosters") { db in
            // A contact's pinned roster chain (Protocol/roster.md §Contacts' rosters): the held
            // roster, whether its safety code was confirmed, every primary key the chain has had
            // (32 bytes each), and a roster under an unproven key waiting for the user.
            try db.execute(sql: """
                CREATE TABLE contact_roster (
                    account TEXT PRIMARY KEY NOT NULL, document BLOB NOT NULL, verified INTEGER NOT NULL,
                    primaries BLOB NOT NULL, pending BLOB
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v7 an owner on everything of an account", migrate: Self.ownerMigration)
        migrator.registerMigration("v8 copies for linked devices") { db in
            // A message copy for a master's device is for the contact account whose roster lists
            // it (Protocol/links.md), which its device id does not say.
            try db.execute(sql: "ALTER TABLE outbox ADD COLUMN toAccount TEXT")
        }
        migrator.registerMigration("v9 xmpp networks") { db in
            // The profile's XMPP accounts (Protocol/xmpp.md §In the profile) with their passwords
            // (the store is its owner's alone), each one's roster as its server last said, and the
            // messages it carried, each once (the server's archive id, when it gave one).
            try db.execute(sql: """
                CREATE TABLE xmpp_network (
                    jid TEXT PRIMARY KEY NOT NULL, host TEXT NOT NULL, port INTEGER NOT NULL, password TEXT NOT NULL,
                    certificate TEXT, rosterVersion TEXT, addedMillis INTEGER NOT NULL
                ) WITHOUT ROWID;
                CREATE TABLE xmpp_roster_item (
                    network TEXT NOT NULL, jid TEXT NOT NULL, name TEXT, subscription TEXT NOT NULL,
                    pendingOut INTEGER NOT NULL, groups TEXT NOT NULL,
                    PRIMARY KEY (network, jid)
                ) WITHOUT ROWID;
                CREATE TABLE xmpp_message (
                    id INTEGER PRIMARY KEY AUTOINCREMENT, network TEXT NOT NULL, peer TEXT NOT NULL, outgoing INTEGER NOT NULL,
                    body TEXT NOT NULL, stanzaID TEXT, archiveID TEXT, atMillis INTEGER NOT NULL
                );
                CREATE UNIQUE INDEX xmpp_message_archive ON xmpp_message (network, archiveID) WHERE archiveID IS NOT NULL;
                CREATE INDEX xmpp_message_peer ON xmpp_message (network, peer, atMillis);
                """)
        }
        migrator.registerMigration("v10 server instances") { db in
            // The addresses of the server's other instances, as its last LoginResult named them
            // (HOST:PORT, comma-separated as in an invite): where to go when the invite's fail.
            try db.execute(sql: "ALTER TABLE account_session ADD COLUMN instances TEXT NOT NULL DEFAULT ''")
        }
        return migrator
    }

    // MARK: - Session

    /// What the agent keeps of its login. The password is never stored.
    public struct Session: Sendable, Equatable {
        public var invite: String
        public var account: String
        public var deviceID: String
        public var token: [UInt8]
        public var expiresAtMillis: UInt64
        /// The server's instances the server last named (spec §Several instances), HOST:PORT each.
        public var instances: [String]

        public init(invite: String, account: String, deviceID: String, token: [UInt8], expiresAtMillis: UInt64,
                    instances: [String] = []) {
            self.invite = invite
            self.account = account
            self.deviceID = deviceID
            self.token = token
            self.expiresAtMillis = expiresAtMillis
            self.instances = instances
        }
    }

    /// The current account's session; nil when it is logged out (or none is).
    public func session() throws -> Session? {
        try reading { db in try Self.session(owner, db) }
    }

    static func session(_ owner: String, _ db: Database) throws -> Session? {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: """
            SELECT * FROM account_session WHERE owner = ? AND token IS NOT NULL AND expiresAtMillis IS NOT NULL
            """), arguments: [owner])
        else { return nil }
        return Session(invite: row["invite"], account: row["account"], deviceID: row["deviceID"],
                       token: [UInt8](row["token"] as Data), expiresAtMillis: UInt64(row["expiresAtMillis"] as Int64),
                       instances: (row["instances"] as String).split(separator: ",").map(String.init))
    }

    /// Stores a login's session and makes its account the current one, remembered across
    /// restarts. The rows a logged-out device kept without an owner go to it.
    public func saveSession(_ session: Session) throws {
        let owner = Self.owner(account: session.account, invite: session.invite)
        try database.write { db in
            try db.cachedStatement(sql: """
                INSERT OR REPLACE INTO account_session (owner, invite, account, deviceID, token, expiresAtMillis, instances)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """).execute(arguments: [owner, session.invite, session.account, session.deviceID, Data(session.token),
                                 Int64(session.expiresAtMillis), session.instances.joined(separator: ",")])
            try db.cachedStatement(sql: "INSERT OR REPLACE INTO setting (key, value) VALUES ('owner', ?)").execute(arguments: [owner])
            try db.cachedStatement(sql: "INSERT OR REPLACE INTO setting (key, value) VALUES ('invite', ?)").execute(arguments: [session.invite])
            try Self.adoptOrphans(into: owner, db)
        }
        use(owner: owner)
    }

    /// The session of a linked account's page on a master's device (Protocol/links.md): the
    /// master's invite and device id, no token (it rides on the master's connection). It does not
    /// change the default account.
    public func savePageSession(invite: String, account: String, deviceID: String) throws {
        let owner = Self.owner(account: account, invite: invite)
        try database.write { db in
            try db.cachedStatement(sql: """
                INSERT OR REPLACE INTO account_session (owner, invite, account, deviceID, token, expiresAtMillis)
                VALUES (?, ?, ?, ?, x'', ?)
                """).execute(arguments: [owner, invite, account, deviceID, Int64.max])
        }
        use(owner: owner)
    }

    /// Remembers the server's instances its latest LoginResult named, for the current account.
    public func saveInstances(_ instances: [String]) throws {
        try database.write { db in
            try db.cachedStatement(sql: "UPDATE account_session SET instances = ? WHERE owner = ?")
                .execute(arguments: [instances.joined(separator: ","), owner])
        }
    }

    /// Ends the current account's session (logout, or a token the server no longer accepts);
    /// its data and invite stay for its next login.
    public func clearSession() throws {
        try database.write { db in
            try db.cachedStatement(sql: "UPDATE account_session SET token = NULL, expiresAtMillis = NULL WHERE owner = ?").execute(arguments: [owner])
        }
    }

    /// The invite of the current account, or the last one used.
    public func invite() throws -> String? {
        try reading { db in
            try String.fetchOne(db.cachedStatement(sql: "SELECT invite FROM account_session WHERE owner = ?"), arguments: [owner])
                ?? String.fetchOne(db.cachedStatement(sql: "SELECT value FROM setting WHERE key = 'invite'"))
        }
    }

    /// The UDP port the current account's direct paths last bound, so its siblings' cached
    /// addresses for it stay right across restarts (the LAN keeps working without the server).
    /// A store from before accounts had their own ports has one for the whole device.
    public func udpPort() throws -> Int? {
        try reading { db in
            try Int.fetchOne(db.cachedStatement(sql: "SELECT value FROM setting WHERE key = ?"), arguments: [revisionKey("udpPort")])
                ?? Int.fetchOne(db.cachedStatement(sql: "SELECT value FROM setting WHERE key = 'udpPort'"))
        }
    }

    public func saveUDPPort(_ port: Int) throws {
        try database.write { db in
            try db.cachedStatement(sql: "INSERT OR REPLACE INTO setting (key, value) VALUES (?, ?)").execute(arguments: [revisionKey("udpPort"), port])
        }
    }

    // MARK: - Devices

    public struct Device: Sendable, Equatable, Codable {
        public var id: String
        public var name: String
        public var terminalType: TerminalType
        public var key: [UInt8]
        public var online: Bool
        public var lastSeenMillis: UInt64
        public var clientVersion: String
        /// UDP candidates (HOST:PORT): on the device's interfaces, and as the server saw it.
        public var addresses: [String]
        public var publicAddresses: [String]

        public init(id: String, name: String, terminalType: TerminalType, key: [UInt8], online: Bool, lastSeenMillis: UInt64,
                    clientVersion: String, addresses: [String] = [], publicAddresses: [String] = []) {
            self.addresses = addresses
            self.publicAddresses = publicAddresses
            self.id = id
            self.name = name
            self.terminalType = terminalType
            self.key = key
            self.online = online
            self.lastSeenMillis = lastSeenMillis
            self.clientVersion = clientVersion
        }
    }

    /// Replaces the device list if `revision` is newer than the one stored; returns whether it did.
    @discardableResult
    public func replaceDevices(_ devices: [Device], revision: UInt64) throws -> Bool {
        try database.write { db in
            guard try Self.advance(revisionKey("deviceListRevision"), to: revision, db) else { return false }
            try db.cachedStatement(sql: "DELETE FROM device WHERE owner = ?").execute(arguments: [owner])
            try Self.insert(devices, owner: owner, db)
            return true
        }
    }

    /// Inserts device rows into `device` (with their addresses), or into `contact_device` under `account`.
    static func insert(_ devices: [Device], owner: String, account: String? = nil, _ db: Database) throws {
        let (table, extra, placeholders) = account == nil ? ("device", ", addresses, publicAddresses", ", ?, ?")
                                                          : ("contact_device", ", account", ", ?")
        for d in devices {
            var values: StatementArguments = [owner, d.id, d.name, Int(d.terminalType.rawValue), Data(d.key), d.online,
                                              Int64(clamping: d.lastSeenMillis), d.clientVersion]
            values += account.map { [$0] } ?? [d.addresses.joined(separator: " "), d.publicAddresses.joined(separator: " ")]
            try db.execute(sql: """
                INSERT OR REPLACE INTO \(table) (owner, id, name, terminalType, key, online, lastSeenMillis, clientVersion\(extra))
                VALUES (?, ?, ?, ?, ?, ?, ?, ?\(placeholders))
                """, arguments: values)
        }
    }

    public func devices() throws -> [Device] {
        try reading { db in
            try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM device WHERE owner = ? ORDER BY id"), arguments: [owner]).map(Self.device)
        }
    }

    /// Marks every device offline: the agent lost the server and no longer knows.
    public func markAllOffline() throws {
        try database.write { db in
            try db.cachedStatement(sql: "UPDATE device SET online = 0 WHERE owner = ?").execute(arguments: [owner])
            try db.cachedStatement(sql: "UPDATE contact_device SET online = 0 WHERE owner = ?").execute(arguments: [owner])
        }
    }

    // MARK: - Outbox

    /// Something this device sends through the server, committed before it goes out.
    public struct OutboxItem: Sendable, Equatable {
        public enum Kind: String, Sendable {
            /// A note to another device of the account.
            case note
            /// One copy of a message to a contact's device.
            case chat
            /// A viewed-notice to another device of the account; `body` is its encoded envelope.
            case viewed
        }

        public var seq: Int64
        public var kind: Kind
        public var receiver: String
        /// The note's or message's id (the same on every copy); nil for notices.
        public var itemID: [UInt8]?
        public var text: String
        public var body: [UInt8]?
        public var sentAtMillis: UInt64
        /// A message copy's contact account, when the receiver is a device of another account
        /// linked into it (Protocol/links.md); nil: the account in the receiver's id.
        public var toAccount: String?

        public init(seq: Int64 = 0, kind: Kind, receiver: String, itemID: [UInt8]? = nil, text: String = "",
                    body: [UInt8]? = nil, sentAtMillis: UInt64, toAccount: String? = nil) {
            self.toAccount = toAccount
            self.seq = seq
            self.kind = kind
            self.receiver = receiver
            self.itemID = itemID
            self.text = text
            self.body = body
            self.sentAtMillis = sentAtMillis
        }
    }

    /// Commits items to the outbox in one transaction; returns their sequence numbers. They are
    /// sent in order once the server is reachable.
    @discardableResult
    public func enqueue(_ items: [OutboxItem]) throws -> [Int64] {
        try database.write { db in try Self.enqueue(items, owner: owner, db) }
    }

    static func enqueue(_ items: [OutboxItem], owner: String, _ db: Database) throws -> [Int64] {
        try items.map { item in
            try db.cachedStatement(sql: """
                INSERT INTO outbox (owner, kind, receiver, itemID, text, body, sentAtMillis, toAccount)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """).execute(arguments: [owner, item.kind.rawValue, item.receiver, item.itemID.map { Data($0) }, item.text,
                                 item.body.map { Data($0) }, Int64(clamping: item.sentAtMillis), item.toAccount])
            return db.lastInsertedRowID
        }
    }

    /// The oldest `limit` waiting items of each receiver, so one receiver's backlog never hides
    /// another's items.
    public func pendingOutgoingByReceiver(limit: Int = 64) throws -> [String: [OutboxItem]] {
        try reading { db in
            var out: [String: [OutboxItem]] = [:]
            for receiver in try String.fetchAll(db.cachedStatement(sql: "SELECT DISTINCT receiver FROM outbox WHERE owner = ? AND relayed = 0"),
                                                arguments: [owner]) {
                out[receiver] = try Row.fetchAll(db.cachedStatement(sql: """
                    SELECT * FROM outbox WHERE owner = ? AND relayed = 0 AND receiver = ? ORDER BY seq LIMIT ?
                    """), arguments: [owner, receiver, limit]).map(Self.outboxItem)
            }
            return out
        }
    }

    static func outboxItem(_ row: Row) -> OutboxItem {
        OutboxItem(seq: row["seq"], kind: OutboxItem.Kind(rawValue: row["kind"]) ?? .note, receiver: row["receiver"],
                   itemID: (row["itemID"] as Data?).map { [UInt8]($0) }, text: row["text"],
                   body: (row["body"] as Data?).map { [UInt8]($0) }, sentAtMillis: UInt64(row["sentAtMillis"] as Int64),
                   toAccount: row["toAccount"])
    }

    public func pendingOutgoingCount() throws -> Int {
        try reading { db in
            try Int.fetchOne(db.cachedStatement(sql: "SELECT COUNT(*) FROM outbox WHERE owner = ? AND relayed = 0"), arguments: [owner]) ?? 0
        }
    }

    public func isPending(seq: Int64) throws -> Bool {
        try reading { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM outbox WHERE seq = ? AND relayed = 0"), arguments: [seq]) != nil
        }
    }

    /// The server refused the item for good (the receiver is no longer a contact, or gone): it
    /// leaves the queue, with the reason kept, so what follows it is not held up.
    public func markFailed(seq: Int64, reason: String) throws {
        try database.write { db in
            try db.cachedStatement(sql: "UPDATE outbox SET relayed = 2, failure = ? WHERE seq = ?").execute(arguments: [reason, seq])
        }
    }

    /// The server-assigned code of a message copy the server holds.
    public func sentCode(seq: Int64) throws -> UInt64? {
        try reading { db in
            try Int64.fetchOne(db.cachedStatement(sql: "SELECT code FROM outbox WHERE seq = ?"), arguments: [seq]).map { UInt64($0) }
        }
    }

    /// The item was handed on — to the server, which holds it, or directly to a sibling that
    /// acknowledged it: notes and message copies stay as this device's record of what it sent
    /// (with the message's code); notices are deleted. (The column is still named `relayed`.)
    /// A notice's deletion is not fsynced: a power loss right after it can only bring the notice
    /// back, and sending it again is harmless (a notice is idempotent); a note's or message's
    /// record is, since sending one again would be a second copy.
    public func markSent(_ item: OutboxItem, code: UInt64? = nil) throws {
        if item.kind == .viewed {
            try database.writeWithoutFsync { db in
                try db.cachedStatement(sql: "DELETE FROM outbox WHERE seq = ?").execute(arguments: [item.seq])
            }
            return
        }
        try database.write { db in
            try db.cachedStatement(sql: "UPDATE outbox SET relayed = 1, code = ? WHERE seq = ?")
                .execute(arguments: [code.map { Int64(clamping: $0) }, item.seq])
        }
    }

    // MARK: - Notes

    public struct Note: Sendable, Equatable, Codable {
        public var seq: Int64
        public var noteID: [UInt8]
        /// The sender of an incoming note.
        public var peer: String
        public var text: String
        public var sentAtMillis: UInt64
        public var receivedAtMillis: UInt64
    }

    /// Commits an incoming note; false if a note with this id is already stored (a redelivery).
    @discardableResult
    public func storeIncoming(noteID: [UInt8], from sender: String, text: String, sentAtMillis: UInt64,
                              receivedAtMillis: UInt64) throws -> Bool {
        try database.write { db in
            try db.cachedStatement(sql: """
                INSERT OR IGNORE INTO inbox (owner, noteID, sender, text, sentAtMillis, receivedAtMillis) VALUES (?, ?, ?, ?, ?, ?)
                """).execute(arguments: [owner, Data(noteID), sender, text, Int64(clamping: sentAtMillis), Int64(clamping: receivedAtMillis)])
            return db.changesCount > 0
        }
    }

    /// The newest `limit` notes, oldest first, in the order their senders sent them (their clocks):
    /// a note that went through the server can arrive after a later one that went directly.
    public func incoming(limit: Int = 100) throws -> [Note] {
        try reading { db in
            try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM inbox WHERE owner = ? ORDER BY sentAtMillis DESC, seq DESC LIMIT ?"),
                             arguments: [owner, limit]).map {
                Note(seq: $0["seq"], noteID: [UInt8]($0["noteID"] as Data), peer: $0["sender"], text: $0["text"],
                     sentAtMillis: UInt64($0["sentAtMillis"] as Int64), receivedAtMillis: UInt64($0["receivedAtMillis"] as Int64))
            }.reversed()
        }
    }
}
