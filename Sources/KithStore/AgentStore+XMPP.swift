import Foundation
import GRDB

/// The profile's XMPP networks (Protocol/xmpp.md §In the profile): where each account's server
/// is, its password and pinned certificate, and its roster with the version to ask from next
/// time. They are the profile's, not one Kith account's: no owner column.
extension AgentStore {
    public struct XMPPNetworkRecord: Sendable, Equatable {
        /// The account's bare JID, normalized: the network's id.
        public var jid: String
        public var host: String
        public var port: Int
        public var password: String
        /// A pinned certificate's SHA-256 (`AB:CD:…`), when the system does not trust the server's.
        public var certificate: String?
        public var addedMillis: UInt64

        public init(jid: String, host: String, port: Int, password: String, certificate: String?, addedMillis: UInt64) {
            (self.jid, self.host, self.port, self.password, self.certificate, self.addedMillis) = (jid, host, port, password, certificate, addedMillis)
        }
    }

    /// One roster item as stored; `subscription` is RFC 6121's word.
    public struct XMPPRosterRow: Sendable, Equatable {
        public var jid: String
        public var name: String?
        public var subscription: String
        public var pendingOut: Bool
        public var groups: [String]

        public init(jid: String, name: String?, subscription: String, pendingOut: Bool, groups: [String]) {
            (self.jid, self.name, self.subscription, self.pendingOut, self.groups) = (jid, name, subscription, pendingOut, groups)
        }
    }

    public func xmppNetworks() throws -> [XMPPNetworkRecord] {
        try reading { db in
            try Row.fetchAll(db, sql: "SELECT * FROM xmpp_network ORDER BY addedMillis, jid").map { row in
                XMPPNetworkRecord(jid: row["jid"], host: row["host"], port: row["port"], password: row["password"],
                                  certificate: row["certificate"], addedMillis: UInt64(row["addedMillis"] as Int64))
            }
        }
    }

    /// Adds the network, or replaces its settings (a new password, say); its roster stays.
    public func saveXMPPNetwork(_ network: XMPPNetworkRecord) throws {
        try database.write { db in
            try db.execute(sql: """
                INSERT INTO xmpp_network (jid, host, port, password, certificate, addedMillis) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (jid) DO UPDATE SET host = excluded.host, port = excluded.port, password = excluded.password,
                    certificate = excluded.certificate
                """, arguments: [network.jid, network.host, network.port, network.password, network.certificate,
                                 Int64(network.addedMillis)])
        }
    }

    /// Forgets the network, its password and its roster; its messages stay (history is the
    /// user's; added again, the account finds them). False when there was none.
    @discardableResult
    public func removeXMPPNetwork(jid: String) throws -> Bool {
        try database.write { db in
            try db.execute(sql: "DELETE FROM xmpp_roster_item WHERE network = ?", arguments: [jid])
            try db.execute(sql: "DELETE FROM xmpp_network WHERE jid = ?", arguments: [jid])
            return db.changesCount > 0
        }
    }

    /// The stored roster of `network` and the version to ask from next time (nil: ask for all).
    public func xmppRoster(network: String) throws -> (rows: [XMPPRosterRow], version: String?) {
        try reading { db in
            let version = try String?.fetchOne(db, sql: "SELECT rosterVersion FROM xmpp_network WHERE jid = ?", arguments: [network]) ?? nil
            let rows = try Row.fetchAll(db, sql: "SELECT * FROM xmpp_roster_item WHERE network = ? ORDER BY jid", arguments: [network]).map { row in
                XMPPRosterRow(jid: row["jid"], name: row["name"], subscription: row["subscription"],
                              pendingOut: row["pendingOut"], groups: Self.groups(row["groups"]))
            }
            return (rows, version)
        }
    }

    /// Replaces `network`'s roster and version in one transaction: the version is never ahead of
    /// the items it stands for, so a crash between the two cannot make a later login skip them.
    public func saveXMPPRoster(network: String, rows: [XMPPRosterRow], version: String?) throws {
        try database.write { db in
            try db.execute(sql: "DELETE FROM xmpp_roster_item WHERE network = ?", arguments: [network])
            let insert = try db.cachedStatement(sql: """
                INSERT INTO xmpp_roster_item (network, jid, name, subscription, pendingOut, groups) VALUES (?, ?, ?, ?, ?, ?)
                """)
            for row in rows {
                let groups = String(decoding: try JSONEncoder().encode(row.groups), as: UTF8.self)
                try insert.execute(arguments: [network, row.jid, row.name, row.subscription, row.pendingOut, groups])
            }
            try db.execute(sql: "UPDATE xmpp_network SET rosterVersion = ? WHERE jid = ?", arguments: [version, network])
        }
    }

    /// Groups are stored as a JSON array of strings (a group's name is any text the server sent).
    private static func groups(_ text: String) -> [String] {
        (try? JSONDecoder().decode([String].self, from: Data(text.utf8))) ?? []
    }
}

/// Messages carried by the profile's XMPP accounts, both ways: the conversation's XMPP half.
extension AgentStore {
    public struct XMPPMessage: Sendable, Equatable {
        public var network: String
        /// The contact's bare JID.
        public var peer: String
        public var outgoing: Bool
        public var body: String
        /// The sender's id for it.
        public var stanzaID: String?
        /// The account's server's archive id (XEP-0359 stanza-id, XEP-0313 result id).
        public var archiveID: String?
        public var atMillis: UInt64

        public init(network: String, peer: String, outgoing: Bool, body: String, stanzaID: String?, archiveID: String?, atMillis: UInt64) {
            (self.network, self.peer, self.outgoing, self.body, self.stanzaID, self.archiveID, self.atMillis) =
                (network, peer, outgoing, body, stanzaID, archiveID, atMillis)
        }
    }

    /// Stores a message; false when it is stored already: the same archive id (a message live and
    /// again from the archive, or from the archive twice), or a copy without an archive id with
    /// the same sender's id (one this client sent, or one that came live unstamped), which then
    /// takes the archive id.
    @discardableResult
    public func saveXMPPMessage(_ message: XMPPMessage) throws -> Bool {
        try database.write { db in
            if let archiveID = message.archiveID, let stanzaID = message.stanzaID {
                try db.execute(sql: """
                    UPDATE xmpp_message SET archiveID = ?
                    WHERE network = ? AND peer = ? AND outgoing = ? AND stanzaID = ? AND archiveID IS NULL
                    """, arguments: [archiveID, message.network, message.peer, message.outgoing, stanzaID])
                if db.changesCount > 0 { return false }
            }
            try db.execute(sql: """
                INSERT OR IGNORE INTO xmpp_message (network, peer, outgoing, body, stanzaID, archiveID, atMillis)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """, arguments: [message.network, message.peer, message.outgoing, message.body, message.stanzaID,
                                 message.archiveID, Int64(message.atMillis)])
            return db.changesCount > 0
        }
    }

    /// The newest `limit` messages with `peer` on `network`, oldest first.
    public func xmppMessages(network: String, peer: String, limit: Int) throws -> [XMPPMessage] {
        try reading { db in
            try Row.fetchAll(db, sql: """
                SELECT * FROM (SELECT * FROM xmpp_message WHERE network = ? AND peer = ? ORDER BY atMillis DESC, id DESC LIMIT ?)
                ORDER BY atMillis, id
                """, arguments: [network, peer, limit]).map(Self.xmppMessage)
        }
    }

    /// The newest `limit` messages received over any XMPP account of the profile, oldest first.
    public func xmppReceived(limit: Int) throws -> [XMPPMessage] {
        try reading { db in
            try Row.fetchAll(db, sql: """
                SELECT * FROM (SELECT * FROM xmpp_message WHERE outgoing = 0 ORDER BY atMillis DESC, id DESC LIMIT ?)
                ORDER BY atMillis, id
                """, arguments: [limit]).map(Self.xmppMessage)
        }
    }

    /// The newest archived message of `network`: where the next archive query starts.
    public func newestXMPPArchived(network: String) throws -> XMPPMessage? {
        try reading { db in
            try Row.fetchOne(db, sql: """
                SELECT * FROM xmpp_message WHERE network = ? AND archiveID IS NOT NULL ORDER BY atMillis DESC, id DESC LIMIT 1
                """, arguments: [network]).map(Self.xmppMessage)
        }
    }

    private static func xmppMessage(_ row: Row) -> XMPPMessage {
        XMPPMessage(network: row["network"], peer: row["peer"], outgoing: row["outgoing"], body: row["body"],
                    stanzaID: row["stanzaID"], archiveID: row["archiveID"], atMillis: UInt64(row["atMillis"] as Int64))
    }
}
