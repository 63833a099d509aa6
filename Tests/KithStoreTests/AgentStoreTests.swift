import Foundation
import GRDB
@testable import KithStore
import KithTestSupport
import Testing

@Suite struct AgentStoreTests {
    static func path() throws -> String {
        let dir = temporaryDirectory("agent-store")
        return dir.appendingPathComponent("agent.sqlite").path
    }

    /// A store of the first version, with a note waiting in its outbox, opens as the current
    /// version with the note still waiting.
    @Test func upgradingKeepsNotesWaitingInTheOutbox() throws {
        let path = try Self.path()
        do {
            let old = try DatabaseQueue(path: path)
            try old.write { db in
                try db.execute(sql: """
                    CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY);
                    INSERT INTO grdb_migrations VALUES ('v1');
                    CREATE TABLE setting (key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL);
                    CREATE TABLE device (id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL, terminalType INTEGER NOT NULL,
                        key BLOB NOT NULL, online INTEGER NOT NULL, lastSeenMillis INTEGER NOT NULL, clientVersion TEXT NOT NULL);
                    CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, noteID BLOB NOT NULL UNIQUE, receiver TEXT NOT NULL,
                        text TEXT NOT NULL, sentAtMillis INTEGER NOT NULL, relayed INTEGER NOT NULL DEFAULT 0);
                    CREATE TABLE inbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, noteID BLOB NOT NULL UNIQUE, sender TEXT NOT NULL,
                        text TEXT NOT NULL, sentAtMillis INTEGER NOT NULL, receivedAtMillis INTEGER NOT NULL);
                    INSERT INTO outbox (noteID, receiver, text, sentAtMillis) VALUES (x'00112233445566778899aabbccddeeff', 'alice-PC-2', 'still here', 5);
                    """)
            }
        }
        let store = try AgentStore(path: path)
        let pending = try store.pendingOutgoingByReceiver()["alice-PC-2"] ?? []
        #expect(pending.map(\.text) == ["still here"] && pending.first?.kind == .note && pending.first?.receiver == "alice-PC-2")
    }

    /// Chunk hashes are appended per file; a gap (a lost write) ends what counts.
    @Test func chunkProofsAreKeptPerFileUpToTheFirstGap() throws {
        let store = try AgentStore(path: try Self.path())
        let id = [UInt8](repeating: 9, count: 16)
        let hash = { (n: UInt8) in [UInt8](repeating: n, count: 32) }
        try store.saveChunkProofs(id: id, file: 0, first: 0, [hash(1), hash(2)])
        try store.saveChunkProofs(id: id, file: 0, first: 2, [hash(3)])
        try store.saveChunkProofs(id: id, file: 2, first: 1, [hash(7)])  // chunk 0 missing
        let stored = try store.chunkProofs(id: id)
        #expect(stored[0] == [hash(1), hash(2), hash(3)])
        #expect(stored[2] == nil)
        try store.deleteChunkProofs(id: id)
        #expect(try store.chunkProofs(id: id).isEmpty)
    }

    /// A sent notice is gone from the outbox (its deletion is the one commit that is not
    /// fsynced); a sent note stays as the record of what went, and neither is pending.
    @Test func sentNoticesAreDeletedAndSentNotesKept() throws {
        let store = try AgentStore(path: try Self.path())
        _ = try store.enqueue([.init(kind: .viewed, receiver: "alice-PC-2", body: [1, 2], sentAtMillis: 1),
                               .init(kind: .note, receiver: "alice-PC-2", itemID: [UInt8](repeating: 3, count: 16), text: "n",
                                     sentAtMillis: 2)])
        let pending = try #require(try store.pendingOutgoingByReceiver()["alice-PC-2"])
        #expect(pending.map(\.kind) == [.viewed, .note])
        for item in pending { try store.markSent(item, code: item.kind == .note ? 42 : nil) }
        #expect(try store.pendingOutgoingCount() == 0)
        #expect(try store.sentCode(seq: pending[1].seq) == 42 && store.sentCode(seq: pending[0].seq) == nil)
        // Every later commit is fsynced again: the connection is back to synchronous = FULL (2).
        #expect(try store.database.read { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") } == 2)
    }

    @Test func aReadMarkCoversMessagesThatArriveLater() throws {
        let store = try AgentStore(path: try Self.path())
        func message(_ code: UInt64) -> AgentStore.StoredMessage {
            .init(code: code, messageID: Array(repeating: UInt8(code), count: 16), sender: "bob-PC-1", senderAccount: "bob",
                  text: "m\(code)", sentAtMillis: code, receivedAtMillis: code)
        }
        #expect(try store.storeMessage(message(1), viewing: nil, consuming: []))
        #expect(try !store.storeMessage(message(1), viewing: nil, consuming: []))  // a redelivery
        #expect(try store.storeMessage(message(3), viewing: nil, consuming: []))
        let viewing = AgentStore.Viewing(atMillis: 10, by: "alice-PC-1")
        #expect(try store.applyViewed(codes: [], upTo: [("bob", 3)], viewing: viewing).changed["bob"]?.sorted() == [1, 3])
        #expect(try store.viewedUpTo(account: "bob")?.code == 3)
        _ = try store.applyViewed(codes: [], upTo: [("bob", 2)], viewing: viewing)  // never lowered
        #expect(try store.viewedUpTo(account: "bob")?.code == 3)
        #expect(try store.unreadCounts().isEmpty)
        // A notice held for a message not here yet, deleted when the message consumes it.
        let held = AgentStore.StoredNotice(code: 9, sentAtMillis: 9, sender: "bob-PC-1", clipMode: nil, clipLimit: nil, clip: nil,
                                           viewedAtMillis: 11, viewedBy: "alice-PC-2", expiresAtMillis: 100)
        _ = try store.applyViewed(codes: [], upTo: [], viewing: viewing, hold: [held])
        let id = try #require(try store.heldNotices().first?.id)
        #expect(try store.storeMessage(message(9), viewing: .init(atMillis: 11, by: "alice-PC-2"), consuming: [id]))
        #expect(try store.heldNoticeCount() == 0)
        #expect(try store.message(code: 9)?.viewedBy == "alice-PC-2")
    }
}

/// A contact's keys changed and the user accepted the new ones: what waited goes to the new devices.
@Suite struct ContactRosterStoreTests {
    @Test func waitingMessagesAreReaddressedToTheAcceptedDevicesOnly() throws {
        let store = try AgentStore(path: try AgentStoreTests.path())
        let (first, second) = ([UInt8](repeating: 1, count: 16), [UInt8](repeating: 2, count: 16))
        _ = try store.enqueue([
            .init(kind: .chat, receiver: "bob-PC-1", itemID: first, text: "one", sentAtMillis: 1),
            .init(kind: .chat, receiver: "bob-MP-1", itemID: first, text: "one", sentAtMillis: 1),
            .init(kind: .chat, receiver: "bob-PC-1", itemID: second, text: "two", sentAtMillis: 2),
            .init(kind: .chat, receiver: "bobby-PC-1", itemID: second, text: "not bob's", sentAtMillis: 2),
            .init(kind: .note, receiver: "alice-PC-2", itemID: second, text: "a note", sentAtMillis: 3),
        ])
        #expect(try store.readdressWaitingMessages(account: "bob", to: ["bob-PC-1", "bob-PC-3"]) == 2)
        let waiting = try store.pendingOutgoingByReceiver()
        #expect(waiting["bob-MP-1"] == nil, "a device the accepted roster does not list gets nothing")
        #expect(waiting["bob-PC-1"]?.map(\.text) == ["one", "two"])
        #expect(waiting["bob-PC-3"]?.map(\.text) == ["one", "two"], "in the order they were written")
        #expect(waiting["bobby-PC-1"]?.map(\.text) == ["not bob's"] && waiting["alice-PC-2"]?.count == 1)
        let stored = AgentStore.ContactRoster(account: "bob", document: [1, 2, 3], verified: true,
                                              primaries: [[UInt8](repeating: 7, count: 32), [UInt8](repeating: 8, count: 32)],
                                              pending: [4])
        try store.saveContactRoster(stored)
        #expect(try store.contactRosters() == [stored])
    }
}

/// The profile's XMPP networks: settings replaced on a second add with the roster kept, the
/// roster and its version replaced together, and removal forgetting both.
@Suite struct AgentStoreXMPPTests {
    @Test func networksAndRostersAreStoredReplacedAndForgotten() throws {
        let store = try AgentStore(path: try AgentStoreTests.path())
        var alice = AgentStore.XMPPNetworkRecord(jid: "alice@kith.test", host: "127.0.0.1", port: 5222, password: "one",
                                                 certificate: nil, addedMillis: 10)
        try store.saveXMPPNetwork(alice)
        let bob = AgentStore.XMPPRosterRow(jid: "bob@kith.test", name: "Bob", subscription: "both", pendingOut: false, groups: ["a\nb", "c"])
        try store.saveXMPPRoster(network: alice.jid, rows: [bob], version: "3")

        alice.password = "two"
        alice.certificate = "AB"
        try store.saveXMPPNetwork(alice)
        #expect(try store.xmppNetworks() == [alice])
        let (rows, version) = try store.xmppRoster(network: alice.jid)
        #expect(rows == [bob] && version == "3", "a second add keeps the roster")

        try store.saveXMPPRoster(network: alice.jid, rows: [], version: nil)
        #expect(try store.xmppRoster(network: alice.jid).rows.isEmpty)
        #expect(try store.removeXMPPNetwork(jid: alice.jid))
        #expect(try store.xmppNetworks().isEmpty)
        #expect(try !store.removeXMPPNetwork(jid: alice.jid))
    }
}

/// An XMPP message is stored once, however it came: live, from the archive, or sent here.
@Suite struct AgentStoreXMPPMessageTests {
    @Test func theArchivesCopyOfAMessageStoredAlreadyIsNotStoredAgain() throws {
        let store = try AgentStore(path: try AgentStoreTests.path())
        func message(_ outgoing: Bool, stanza: String?, archive: String?) -> AgentStore.XMPPMessage {
            .init(network: "alice@kith.test", peer: "bob@kith.test", outgoing: outgoing, body: "hi", stanzaID: stanza, archiveID: archive, atMillis: 1)
        }
        #expect(try store.saveXMPPMessage(message(true, stanza: "s1", archive: nil)), "sent here")
        #expect(try !store.saveXMPPMessage(message(true, stanza: "s1", archive: "A1")), "its archive copy takes the archive id")
        #expect(try !store.saveXMPPMessage(message(true, stanza: "s1", archive: "A1")), "and comes once")
        #expect(try store.saveXMPPMessage(message(false, stanza: "s1", archive: "A2")), "another message with the same sender id is another")
        #expect(try !store.saveXMPPMessage(message(false, stanza: nil, archive: "A2")))
        let stored = try store.xmppMessages(network: "alice@kith.test", peer: "bob@kith.test", limit: 10)
        #expect(stored.map(\.archiveID) == ["A1", "A2"])
    }
}
