import Foundation
import GRDB
import KithWire

/// Messages from contacts and their read state (spec §Read state). The decisions are made by
/// KithCore's `ReadState`; these methods carry each one out in a single transaction, so a crash
/// leaves either all of it or none of it.
extension AgentStore {
    public struct StoredMessage: Sendable, Equatable {
        /// The server-assigned code: with `sentAtMillis` and `sender`, the id every device agrees on.
        public var code: UInt64
        public var messageID: [UInt8]
        public var sender: String
        public var senderAccount: String
        public var text: String
        public var sentAtMillis: UInt64
        public var receivedAtMillis: UInt64
        public var viewedAtMillis: UInt64?
        /// The device it was viewed on.
        public var viewedBy: String?

        public init(code: UInt64, messageID: [UInt8], sender: String, senderAccount: String, text: String,
                    sentAtMillis: UInt64, receivedAtMillis: UInt64, viewedAtMillis: UInt64? = nil, viewedBy: String? = nil) {
            self.code = code
            self.messageID = messageID
            self.sender = sender
            self.senderAccount = senderAccount
            self.text = text
            self.sentAtMillis = sentAtMillis
            self.receivedAtMillis = receivedAtMillis
            self.viewedAtMillis = viewedAtMillis
            self.viewedBy = viewedBy
        }
    }

    /// A viewed item held until its message arrives (or it expires).
    public struct StoredNotice: Sendable, Equatable {
        public var id: Int64
        public var code: UInt64
        public var sentAtMillis: UInt64
        public var sender: String
        public var clipMode: ClipMode?
        public var clipLimit: UInt16?
        public var clip: [UInt8]?
        public var viewedAtMillis: UInt64
        public var viewedBy: String
        public var expiresAtMillis: UInt64

        public init(id: Int64 = 0, code: UInt64, sentAtMillis: UInt64, sender: String, clipMode: ClipMode?, clipLimit: UInt16?,
                    clip: [UInt8]?, viewedAtMillis: UInt64, viewedBy: String, expiresAtMillis: UInt64) {
            self.id = id
            self.code = code
            self.sentAtMillis = sentAtMillis
            self.sender = sender
            self.clipMode = clipMode
            self.clipLimit = clipLimit
            self.clip = clip
            self.viewedAtMillis = viewedAtMillis
            self.viewedBy = viewedBy
            self.expiresAtMillis = expiresAtMillis
        }
    }

    /// "Viewed on device `by` at `atMillis`".
    public struct Viewing: Sendable, Equatable {
        public var atMillis: UInt64
        public var by: String

        public init(atMillis: UInt64, by: String) {
            self.atMillis = atMillis
            self.by = by
        }
    }

    // MARK: - Reading

    public func message(code: UInt64) throws -> StoredMessage? {
        try reading { db in try Self.message(code: code, owner: owner, db) }
    }

    private static func message(code: UInt64, owner: String, _ db: Database) throws -> StoredMessage? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM message WHERE owner = ? AND code = ?"), arguments: [owner, Int64(clamping: code)])
            .map(Self.message)
    }

    /// What a local `read` needs, in one read: the session, the message, the account's device ids.
    public func readContext(code: UInt64?) throws -> (session: Session?, message: StoredMessage?, devices: [String]) {
        let owner = owner
        return try reading { db in
            (try Self.session(owner, db), try code.flatMap { try Self.message(code: $0, owner: owner, db) },
             try String.fetchAll(db.cachedStatement(sql: "SELECT id FROM device WHERE owner = ? ORDER BY id"), arguments: [owner]))
        }
    }

    /// Messages newest last; from one contact if `account` is set.
    public func messages(account: String? = nil, unviewedOnly: Bool = false, limit: Int = 100) throws -> [StoredMessage] {
        try reading { db in
            var sql = "SELECT * FROM message WHERE owner = ?", arguments: StatementArguments = [owner]
            if let account {
                sql += " AND senderAccount = ?"
                arguments += [account]
            }
            if unviewedOnly { sql += " AND viewedAtMillis IS NULL" }
            sql += " ORDER BY code DESC LIMIT ?"
            arguments += [limit]
            // Four shapes of the query at most: each is prepared once per connection.
            return try Row.fetchAll(db.cachedStatement(sql: sql), arguments: arguments).map(Self.message).reversed()
        }
    }

    /// Unread messages per contact account (accounts with none are absent).
    public func unreadCounts() throws -> [String: Int] {
        try reading { db in try Self.unreadCounts(owner: owner, db) }
    }

    private static func unreadCounts(owner: String, _ db: Database) throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for row in try Row.fetchAll(db.cachedStatement(sql: """
            SELECT senderAccount, COUNT(*) AS n FROM message WHERE owner = ? AND viewedAtMillis IS NULL GROUP BY senderAccount
            """), arguments: [owner]) {
            counts[row["senderAccount"]] = row["n"]
        }
        return counts
    }

    public func heldNotices() throws -> [StoredNotice] {
        try reading { db in
            try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM held_notice WHERE owner = ? ORDER BY id"), arguments: [owner]).map(Self.notice)
        }
    }

    public func heldNoticeCount() throws -> Int {
        try reading { db in
            try Int.fetchOne(db.cachedStatement(sql: "SELECT COUNT(*) FROM held_notice WHERE owner = ?"), arguments: [owner]) ?? 0
        }
    }

    /// Every message from `account` with a code at or below this one counts as viewed.
    public func viewedUpTo(account: String) throws -> (code: UInt64, viewing: Viewing)? {
        try reading { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM read_mark WHERE owner = ? AND account = ?"), arguments: [owner, account]).map {
                (UInt64($0["upToCode"] as Int64), Viewing(atMillis: UInt64($0["viewedAtMillis"] as Int64), by: $0["viewedBy"]))
            }
        }
    }

    // MARK: - Changing, one transaction each

    /// Commits an arriving message, viewed if `viewing` is set, and deletes the held notices it
    /// consumed. False if a message with its code is stored already (a redelivery).
    @discardableResult
    public func storeMessage(_ m: StoredMessage, viewing: Viewing?, consuming noticeIDs: [Int64]) throws -> Bool {
        try database.write { db in
            try db.cachedStatement(sql: """
                INSERT OR IGNORE INTO message (owner, code, messageID, sender, senderAccount, text, sentAtMillis, receivedAtMillis,
                                               viewedAtMillis, viewedBy)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """).execute(arguments: [owner, Int64(clamping: m.code), Data(m.messageID), m.sender, m.senderAccount, m.text,
                                 Int64(clamping: m.sentAtMillis), Int64(clamping: m.receivedAtMillis),
                                 viewing.map { Int64(clamping: $0.atMillis) }, viewing?.by])
            guard db.changesCount > 0 else { return false }
            try Self.deleteNotices(noticeIDs, owner: owner, db)
            return true
        }
    }

    /// Carries out a viewed-notice (or a local read): marks messages viewed, raises per-contact
    /// marks, holds what matched nothing, deletes expired notices, and queues notices for the
    /// account's other devices, all in one transaction. Returns the codes it turned viewed, by
    /// the contact account they came from, and the unread counts after it.
    @discardableResult
    public func applyViewed(codes: [UInt64], upTo: [(account: String, code: UInt64)], viewing: Viewing,
                            hold: [StoredNotice] = [], deleteNotices: [Int64] = [],
                            enqueue: [OutboxItem] = []) throws -> ViewedOutcome {
        let owner = owner
        return try database.write { db in
            var changed: [String: [UInt64]] = [:]
            let at = Int64(clamping: viewing.atMillis)
            for code in codes {
                guard let account = try String.fetchOne(db.cachedStatement(sql: """
                    SELECT senderAccount FROM message WHERE owner = ? AND code = ? AND viewedAtMillis IS NULL
                    """), arguments: [owner, Int64(clamping: code)]) else { continue }
                try db.cachedStatement(sql: "UPDATE message SET viewedAtMillis = ?, viewedBy = ? WHERE owner = ? AND code = ?").execute(arguments: [at, viewing.by, owner, Int64(clamping: code)])
                changed[account, default: []].append(code)
            }
            for (account, code) in upTo {
                // A higher mark takes the time and device of the notice that raised it.
                try db.cachedStatement(sql: """
                    INSERT INTO read_mark (owner, account, upToCode, viewedAtMillis, viewedBy) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT(owner, account) DO UPDATE SET upToCode = excluded.upToCode,
                        viewedAtMillis = excluded.viewedAtMillis, viewedBy = excluded.viewedBy WHERE excluded.upToCode > upToCode
                    """).execute(arguments: [owner, account, Int64(clamping: code), at, viewing.by])
                changed[account, default: []] += try Int64.fetchAll(db.cachedStatement(sql: """
                    SELECT code FROM message WHERE owner = ? AND senderAccount = ? AND code <= ? AND viewedAtMillis IS NULL
                    """), arguments: [owner, account, Int64(clamping: code)]).map { UInt64($0) }
                try db.cachedStatement(sql: """
                    UPDATE message SET viewedAtMillis = ?, viewedBy = ?
                    WHERE owner = ? AND senderAccount = ? AND code <= ? AND viewedAtMillis IS NULL
                    """).execute(arguments: [at, viewing.by, owner, account, Int64(clamping: code)])
            }
            for n in hold {
                try db.cachedStatement(sql: """
                    INSERT OR IGNORE INTO held_notice (owner, code, sentAtMillis, sender, clipMode, clipLimit, clip, viewedAtMillis,
                                             viewedBy, expiresAtMillis)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """).execute(arguments: [owner, Int64(clamping: n.code), Int64(clamping: n.sentAtMillis), n.sender,
                                     n.clipMode.map { Int($0.rawValue) }, n.clipLimit.map { Int($0) }, n.clip.map { Data($0) },
                                     Int64(clamping: n.viewedAtMillis), n.viewedBy, Int64(clamping: n.expiresAtMillis)])
            }
            try Self.deleteNotices(deleteNotices, owner: owner, db)
            _ = try Self.enqueue(enqueue, owner: owner, db)
            return ViewedOutcome(changed: changed, unread: changed.isEmpty ? [:] : try Self.unreadCounts(owner: owner, db))
        }
    }

    /// What `applyViewed` did: the codes it turned viewed by contact, and the unread counts after
    /// it (empty when nothing changed).
    public struct ViewedOutcome: Sendable, Equatable {
        public var changed: [String: [UInt64]]
        public var unread: [String: Int]
    }

    private static func deleteNotices(_ ids: [Int64], owner: String, _ db: Database) throws {
        for id in ids { try db.cachedStatement(sql: "DELETE FROM held_notice WHERE owner = ? AND id = ?").execute(arguments: [owner, id]) }
    }

    private static func message(_ row: Row) -> StoredMessage {
        StoredMessage(code: UInt64(row["code"] as Int64), messageID: [UInt8](row["messageID"] as Data), sender: row["sender"],
                      senderAccount: row["senderAccount"], text: row["text"],
                      sentAtMillis: UInt64(row["sentAtMillis"] as Int64),
                      receivedAtMillis: UInt64(row["receivedAtMillis"] as Int64),
                      viewedAtMillis: (row["viewedAtMillis"] as Int64?).map { UInt64($0) }, viewedBy: row["viewedBy"])
    }

    private static func notice(_ row: Row) -> StoredNotice {
        StoredNotice(id: row["id"], code: UInt64(row["code"] as Int64), sentAtMillis: UInt64(row["sentAtMillis"] as Int64),
                     sender: row["sender"], clipMode: (row["clipMode"] as Int?).map { ClipMode(rawValue: UInt8($0)) },
                     clipLimit: (row["clipLimit"] as Int?).map { UInt16($0) }, clip: (row["clip"] as Data?).map { [UInt8]($0) },
                     viewedAtMillis: UInt64(row["viewedAtMillis"] as Int64), viewedBy: row["viewedBy"],
                     expiresAtMillis: UInt64(row["expiresAtMillis"] as Int64))
    }
}
