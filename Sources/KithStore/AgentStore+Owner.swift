import Foundation
import GRDB

/// The migration that gives every row of an account an owner (v7), and the current owner.
extension AgentStore {
    /// Rows written before v7 belong to the session then stored; a store whose device was logged
    /// out has no session, and its rows get the owner '' until the next login adopts them
    /// (`saveSession`), as a logged-out device's roster was kept for the next login before.
    static func ownerMigration(_ db: Database) throws {
        var values: [String: DatabaseValue] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT key, value FROM setting") { values[row["key"]] = row["value"] }
        let invite = values["invite"].flatMap(String.fromDatabaseValue)
        let account = values["account"].flatMap(String.fromDatabaseValue)
        let owner = account.flatMap { a in invite.map { Self.owner(account: a, invite: $0) } } ?? ""
        try db.execute(sql: """
            CREATE TABLE account_session (
                owner TEXT PRIMARY KEY NOT NULL, invite TEXT NOT NULL, account TEXT NOT NULL, deviceID TEXT NOT NULL,
                token BLOB, expiresAtMillis INTEGER
            ) WITHOUT ROWID;
            """)
        if !owner.isEmpty, let deviceID = values["deviceID"].flatMap(String.fromDatabaseValue) {
            try db.execute(sql: """
                INSERT INTO account_session (owner, invite, account, deviceID, token, expiresAtMillis) VALUES (?, ?, ?, ?, ?, ?)
                """, arguments: [owner, invite, account, deviceID, values["token"], values["expiresAtMillis"]])
        }
        try db.execute(sql: "DELETE FROM setting WHERE key IN ('account', 'deviceID', 'token', 'expiresAtMillis')")
        try db.execute(sql: "INSERT OR REPLACE INTO setting (key, value) VALUES ('owner', ?)", arguments: [owner])
        // The revisions of the lists an account's session receives are the account's too.
        try db.execute(sql: """
            UPDATE setting SET key = ? || '|' || key
            WHERE key IN ('deviceListRevision', 'contactListRevision') OR key LIKE 'contactDevicesRevision:%'
            """, arguments: [owner])
        // Each table again with the owner in its key; rows keep their values (and sequence numbers).
        try db.execute(sql: """
            CREATE TABLE device_v7 (
                owner TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, terminalType INTEGER NOT NULL,
                key BLOB NOT NULL, online INTEGER NOT NULL, lastSeenMillis INTEGER NOT NULL, clientVersion TEXT NOT NULL,
                addresses TEXT NOT NULL DEFAULT '', publicAddresses TEXT NOT NULL DEFAULT '',
                PRIMARY KEY (owner, id)
            ) WITHOUT ROWID;
            INSERT INTO device_v7 SELECT :owner, id, name, terminalType, key, online, lastSeenMillis, clientVersion,
                addresses, publicAddresses FROM device;
            DROP TABLE device;
            ALTER TABLE device_v7 RENAME TO device;

            CREATE TABLE contact_v7 (
                owner TEXT NOT NULL, account TEXT NOT NULL, state INTEGER NOT NULL, PRIMARY KEY (owner, account)
            ) WITHOUT ROWID;
            INSERT INTO contact_v7 SELECT :owner, account, state FROM contact;
            DROP TABLE contact;
            ALTER TABLE contact_v7 RENAME TO contact;

            CREATE TABLE contact_device_v7 (
                owner TEXT NOT NULL, id TEXT NOT NULL, account TEXT NOT NULL, name TEXT NOT NULL,
                terminalType INTEGER NOT NULL, key BLOB NOT NULL, online INTEGER NOT NULL,
                lastSeenMillis INTEGER NOT NULL, clientVersion TEXT NOT NULL, PRIMARY KEY (owner, id)
            ) WITHOUT ROWID;
            INSERT INTO contact_device_v7 SELECT :owner, id, account, name, terminalType, key, online, lastSeenMillis,
                clientVersion FROM contact_device;
            DROP TABLE contact_device;
            ALTER TABLE contact_device_v7 RENAME TO contact_device;
            CREATE INDEX contact_device_by_account ON contact_device(owner, account);

            CREATE TABLE contact_roster_v7 (
                owner TEXT NOT NULL, account TEXT NOT NULL, document BLOB NOT NULL, verified INTEGER NOT NULL,
                primaries BLOB NOT NULL, pending BLOB, PRIMARY KEY (owner, account)
            ) WITHOUT ROWID;
            INSERT INTO contact_roster_v7 SELECT :owner, account, document, verified, primaries, pending FROM contact_roster;
            DROP TABLE contact_roster;
            ALTER TABLE contact_roster_v7 RENAME TO contact_roster;

            CREATE TABLE message_v7 (
                owner TEXT NOT NULL, code INTEGER NOT NULL, messageID BLOB NOT NULL, sender TEXT NOT NULL,
                senderAccount TEXT NOT NULL, text TEXT NOT NULL, sentAtMillis INTEGER NOT NULL,
                receivedAtMillis INTEGER NOT NULL, viewedAtMillis INTEGER, viewedBy TEXT, PRIMARY KEY (owner, code)
            );
            INSERT INTO message_v7 SELECT :owner, code, messageID, sender, senderAccount, text, sentAtMillis, receivedAtMillis,
                viewedAtMillis, viewedBy FROM message;
            DROP TABLE message;
            ALTER TABLE message_v7 RENAME TO message;
            CREATE INDEX message_by_account ON message(owner, senderAccount, code);
            CREATE INDEX message_unread ON message(owner, senderAccount) WHERE viewedAtMillis IS NULL;

            """, arguments: ["owner": owner])
        // A test kills the process here to show that a migration cut short leaves the store as it was.
        if let pause = ProcessInfo.processInfo.environment["KITH_TEST_PAUSE_IN_MIGRATION_MS"].flatMap(UInt32.init) {
            FileHandle.standardError.write(Data("store migration v7 paused\n".utf8))
            usleep(pause * 1000)
        }
        try db.execute(sql: """
            ALTER TABLE held_notice ADD COLUMN owner TEXT NOT NULL DEFAULT '';
            UPDATE held_notice SET owner = :owner;
            DROP INDEX held_notice_once;
            CREATE UNIQUE INDEX held_notice_once ON held_notice(owner, code, sender, sentAtMillis, viewedBy);

            CREATE TABLE read_mark_v7 (
                owner TEXT NOT NULL, account TEXT NOT NULL, upToCode INTEGER NOT NULL,
                viewedAtMillis INTEGER NOT NULL, viewedBy TEXT NOT NULL, PRIMARY KEY (owner, account)
            ) WITHOUT ROWID;
            INSERT INTO read_mark_v7 SELECT :owner, account, upToCode, viewedAtMillis, viewedBy FROM read_mark;
            DROP TABLE read_mark;
            ALTER TABLE read_mark_v7 RENAME TO read_mark;

            CREATE TABLE inbox_v7 (
                seq INTEGER PRIMARY KEY AUTOINCREMENT, owner TEXT NOT NULL, noteID BLOB NOT NULL, sender TEXT NOT NULL,
                text TEXT NOT NULL, sentAtMillis INTEGER NOT NULL, receivedAtMillis INTEGER NOT NULL, UNIQUE (owner, noteID)
            );
            INSERT INTO inbox_v7 SELECT seq, :owner, noteID, sender, text, sentAtMillis, receivedAtMillis FROM inbox;
            DROP TABLE inbox;
            ALTER TABLE inbox_v7 RENAME TO inbox;

            CREATE TABLE outbox_v7 (
                seq INTEGER PRIMARY KEY AUTOINCREMENT, owner TEXT NOT NULL, kind TEXT NOT NULL, receiver TEXT NOT NULL,
                itemID BLOB, text TEXT NOT NULL DEFAULT '', body BLOB, sentAtMillis INTEGER NOT NULL,
                relayed INTEGER NOT NULL DEFAULT 0, code INTEGER, failure TEXT, UNIQUE (owner, kind, itemID, receiver)
            );
            INSERT INTO outbox_v7 SELECT seq, :owner, kind, receiver, itemID, text, body, sentAtMillis, relayed, code, failure
                FROM outbox;
            DROP TABLE outbox;
            ALTER TABLE outbox_v7 RENAME TO outbox;
            CREATE INDEX outbox_pending ON outbox(owner, relayed, seq);

            CREATE TABLE signed_document_v7 (
                owner TEXT NOT NULL, kind INTEGER NOT NULL, subject TEXT NOT NULL, document BLOB NOT NULL,
                PRIMARY KEY (owner, kind, subject)
            ) WITHOUT ROWID;
            INSERT INTO signed_document_v7 SELECT :owner, kind, subject, document FROM signed_document;
            DROP TABLE signed_document;
            ALTER TABLE signed_document_v7 RENAME TO signed_document;

            ALTER TABLE transfer ADD COLUMN owner TEXT NOT NULL DEFAULT '';
            UPDATE transfer SET owner = :owner;
            DROP INDEX transfer_open;
            CREATE INDEX transfer_open ON transfer(owner, finished, createdMillis);
            """, arguments: ["owner": owner])
    }

    /// Rows of a logged-out device's account (owner ''), taken by the account that logs in next.
    static func adoptOrphans(into owner: String, _ db: Database) throws {
        for table in ["device", "contact", "contact_device", "contact_roster", "message", "held_notice", "read_mark",
                      "inbox", "outbox", "signed_document", "transfer"] {
            try db.execute(sql: "UPDATE OR IGNORE \(table) SET owner = ? WHERE owner = ''", arguments: [owner])
        }
        try db.execute(sql: "UPDATE OR IGNORE setting SET key = ? || key WHERE key LIKE '|%'", arguments: [owner])
    }

    /// The setting key of one of the current account's list revisions.
    func revisionKey(_ name: String) -> String { owner + "|" + name }
}

/// The current owner, shared by every holder of one `AgentStore`.
final class CurrentOwner: @unchecked Sendable {
    private let lock = NSLock()
    private var owner: String

    init(_ owner: String) { self.owner = owner }

    var value: String {
        get { lock.withLock { owner } }
        set { lock.withLock { owner = newValue } }
    }
}
