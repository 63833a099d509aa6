import KithWire

/// The server's durable state, behind an interface so that a PostgreSQL store can serve several
/// server instances later; `SQLiteServerStore` is the embedded default. Every method commits
/// before it returns: whatever the server acknowledges after a call is on disk.
public protocol ServerStore: Sendable {
    /// Folds the write-ahead log into the database, before the process exits.
    func checkpoint() throws
    /// Folds what it can of the write-ahead log into the database without waiting for readers or
    /// the writer, on a connection of its own: the server calls it from a thread of its own, so
    /// that no commit of a relay group pays for it (a store without such a log does nothing).
    func checkpointInBackground() throws
    /// Throws `StoreError.conflict` if the name is taken.
    func createAccount(name: String, passwordHash: String, now: UInt64) throws
    func passwordHash(account: String) throws -> String?
    /// Registers a device, or finds it again by its key (the same key always gets its id back).
    /// A new device gets `ACCOUNT-CODE-N`, N one more than the highest for this account and code.
    /// Throws `StoreError.conflict` if the key belongs to another account.
    func registerDevice(_ registration: DeviceRegistration, now: UInt64) throws -> DeviceRecord
    func device(id: String) throws -> DeviceRecord?
    func devices(account: String) throws -> [DeviceRecord]
    func touch(deviceID: String, now: UInt64) throws
    /// Replaces a device's UDP candidates: its own interfaces' and as the server saw it.
    func updateAddresses(deviceID: String, addresses: [String], publicAddresses: [String]) throws

    func createSession(tokenHash: [UInt8], deviceID: String, expiresAtMillis: UInt64) throws
    func session(tokenHash: [UInt8]) throws -> SessionRecord?
    func revokeSession(tokenHash: [UInt8]) throws

    /// Commits relayed payloads to their receivers' queues and deletes acknowledged ones, in one
    /// transaction (one fsync for the group: the server's relay commits in groups,
    /// `RelayCommitter`), and answers one outcome per item, in order: its id (ids increase in the
    /// order given) or, with a `quota`, the refusal of an item that would go over it — a refused
    /// item does not stop the others. A deletion names the receiver too: an id queued for another
    /// device is left alone. Throws only when nothing was committed.
    func commitRelays(_ items: [RelayItem], deleting acknowledged: [(id: Int64, to: String)], quota: RelayQuota?,
                      now: UInt64) throws -> [RelayOutcome]
    /// The oldest `limit` payloads queued for `to`, oldest first.
    func pendingRelays(to: String, after: Int64, limit: Int) throws -> [RelayRecord]

    /// The code of the message `messageID` from `sender`: the same code every time it is asked
    /// for, a new and higher one the first time.
    func messageCode(sender: String, messageID: [UInt8], now: UInt64) throws -> Int64

    /// The account's contacts and open requests, by the other account's name.
    func contacts(account: String) throws -> [ContactRecord]
    /// Records `from`'s request to `to`, or makes them contacts if `to` asked `from` already.
    /// Throws `StoreError.notFound` if `to` is not an account.
    func requestContact(from: String, to: String, now: UInt64) throws -> ContactState
    /// Accepts `requester`'s open request to `account`; throws `StoreError.notFound` if there is none.
    func acceptContact(account: String, requester: String) throws
    /// Ends a contact or an open request either way; true if there was one.
    @discardableResult
    func removeContact(_ a: String, _ b: String) throws -> Bool

    // Rosters, policies and revoking (Protocol/roster.md §Distribution, §Revoke). The store
    // keeps documents as published; the server checks them before it calls these.

    /// The account's first device: the only one that may publish its first roster.
    func firstDeviceID(account: String) throws -> String?
    /// Every kept roster (one that changed the primary or the epoch), then the latest, oldest first.
    func rosters(account: String) throws -> [[UInt8]]
    func latestRoster(account: String) throws -> [UInt8]?
    /// What the checks of a batch of relayed payloads read (`RelayCheckReads`), in one wait
    /// where the store can.
    func relayCheckReads(targets: [String], senderAccounts: [String]) throws -> RelayCheckReads
    /// Stores `document` as the latest roster; `kept` ones stay after a newer one is stored.
    func storeRoster(account: String, document: [UInt8], kept: Bool) throws
    /// The latest policy of each device of the account.
    func policies(account: String) throws -> [(deviceID: String, document: [UInt8])]
    func storePolicy(account: String, deviceID: String, document: [UInt8]) throws
    /// Cuts a device off in one transaction: its sessions revoked, its queue and policy dropped,
    /// its key refused at login (`StoreError.revoked`), left out of `devices` and `device(id:)`.
    /// Throws `StoreError.notFound` for an unknown or already revoked device.
    func revokeDevice(id: String) throws

    // Linked accounts (Protocol/links.md §Links). The server checks a link before it stores it.

    /// Stores the link; throws `StoreError.conflict` if `linked` has a master already.
    func link(master: String, linked: String, now: UInt64) throws
    /// Removes the link between the two; false if there was none.
    @discardableResult
    func removeLink(master: String, linked: String) throws -> Bool
    /// The account's master, if it is linked under one.
    func master(of account: String) throws -> String?
    /// The accounts linked under `master`, in name order.
    func linkedAccounts(of master: String) throws -> [String]
    /// In one transaction: `newMaster`, linked under `oldMaster`, becomes the master of
    /// `oldMaster` and of every other account linked under it.
    func setMaster(_ newMaster: String, replacing oldMaster: String, now: UInt64) throws

    // Watch sessions (spec §Watch sessions)
    /// Which of `among` are accepted contacts of `account` (reads only those rows).
    func acceptedContacts(of account: String, among: [String]) throws -> Set<String>
    func createWatchSession(tokenHash: [UInt8], account: String, expiresAtMillis: UInt64) throws
    /// The account and expiry of a live watch session (not revoked, not expired at `now`); nil otherwise.
    func watchSession(tokenHash: [UInt8], now: UInt64) throws -> (account: String, expiresAtMillis: UInt64)?
    /// Revokes every watch session of `account`; how many were live.
    func revokeWatchSessions(account: String) throws -> Int
    /// A message with `code` from `contact` was queued for `account`'s devices.
    func recordWatchedMessage(account: String, contact: String, code: Int64) throws
    /// A device of `account` reports: of the messages from `contact` up to `upToCode`, `unread`
    /// are not viewed. A report is kept unless one with a higher `upToCode` is held.
    func recordUnreadReport(account: String, contact: String, upToCode: Int64, unread: Int) throws
    /// Unread messages from each of `contacts` for `account`: the latest report's count plus the
    /// messages queued after it.
    func unreadCounts(account: String, contacts: [String]) throws -> [String: Int]

    // Server instances (`kith server status`): each running instance reports itself every few seconds.
    /// Records `report` as the instance's latest (replacing its earlier one).
    func recordInstance(_ report: InstanceReport) throws
    /// The instances whose latest report is at or after `since`, by address.
    func instances(seenSince since: UInt64) throws -> [InstanceReport]

    // The operator's account commands (`kith server account list|passwd|remove`).
    func accountSummaries() throws -> [ServerAccountSummary]
    /// Replaces an account's password hash; its devices' sessions stay (they hold tokens, not the password).
    func setPasswordHash(account: String, _ hash: String) throws
    /// Deletes an account and everything of it: its devices, their sessions and queued items, its
    /// contacts with others, its rosters and policies. Its devices' tokens stop working at once;
    /// a device already connected is cut off at its next reconnect.
    func removeAccount(_ name: String) throws
}

/// What one running server instance last said of itself: where devices reach it and how many
/// device sessions it holds. Several instances share a PostgreSQL store; on SQLite there is one.
public struct InstanceReport: Sendable, Equatable, Codable {
    /// Random, new at each start.
    public var id: String
    /// HOST:PORT, as its invite names it.
    public var address: String
    public var startedAtMillis: UInt64
    public var seenAtMillis: UInt64
    public var sessions: Int

    public init(id: String, address: String, startedAtMillis: UInt64, seenAtMillis: UInt64, sessions: Int) {
        self.id = id
        self.address = address
        self.startedAtMillis = startedAtMillis
        self.seenAtMillis = seenAtMillis
        self.sessions = sessions
    }
}

/// One account as `kith server account list` shows it.
public struct ServerAccountSummary: Sendable, Equatable {
    public var name: String
    public var createdAtMillis: UInt64
    /// Devices registered and not revoked.
    public var devices: Int

    public init(name: String, createdAtMillis: UInt64, devices: Int) {
        self.name = name
        self.createdAtMillis = createdAtMillis
        self.devices = devices
    }
}

public struct ContactRecord: Sendable, Equatable {
    /// What one ContactList carries (its `contacts` maxCount): the most contacts and open
    /// requests an account may have.
    public static let maxPerAccount = 255

    public var account: String
    /// How the account whose contacts these are stands to `account`: `contact`, `requested` (it
    /// asked) or `incoming` (`account` asked); never `unknown`.
    public var state: ContactState

    public init(account: String, state: ContactState) {
        self.account = account
        self.state = state
    }
}

public enum StoreError: Error, Equatable, Sendable {
    case conflict(String)
    case notFound(String)
    /// The device with this id was revoked from its account: its key is refused for good.
    case revoked(String)
    /// A payload would take a device over its `RelayQuota`; the reason says whose, for the sender.
    case quotaExceeded(String)
}

public struct DeviceRegistration: Sendable, Equatable {
    public var account: String
    public var terminalType: TerminalType
    /// The two letters of the device id for this type (`PC`, `MP`…).
    public var typeCode: String
    public var name: String
    public var key: [UInt8]
    public var clientVersion: String
    public var addresses: [String]

    public init(account: String, terminalType: TerminalType, typeCode: String, name: String, key: [UInt8],
                clientVersion: String, addresses: [String]) {
        self.account = account
        self.terminalType = terminalType
        self.typeCode = typeCode
        self.name = name
        self.key = key
        self.clientVersion = clientVersion
        self.addresses = addresses
    }
}

public struct DeviceRecord: Sendable, Equatable {
    public var id: String
    public var account: String
    public var terminalType: TerminalType
    public var name: String
    public var key: [UInt8]
    public var clientVersion: String
    public var addresses: [String]
    public var publicAddresses: [String]
    public var createdAtMillis: UInt64
    public var lastSeenMillis: UInt64

    public init(id: String, account: String, terminalType: TerminalType, name: String, key: [UInt8], clientVersion: String,
                addresses: [String], publicAddresses: [String] = [], createdAtMillis: UInt64, lastSeenMillis: UInt64) {
        self.publicAddresses = publicAddresses
        self.id = id
        self.account = account
        self.terminalType = terminalType
        self.name = name
        self.key = key
        self.clientVersion = clientVersion
        self.addresses = addresses
        self.createdAtMillis = createdAtMillis
        self.lastSeenMillis = lastSeenMillis
    }
}

public struct SessionRecord: Sendable, Equatable {
    public var deviceID: String
    public var expiresAtMillis: UInt64
    public var revoked: Bool

    public init(deviceID: String, expiresAtMillis: UInt64, revoked: Bool) {
        self.deviceID = deviceID
        self.expiresAtMillis = expiresAtMillis
        self.revoked = revoked
    }
}

/// A relayed payload before the store gives it its id.
/// `code` is set for a copy of a message between people (spec §Messages between people);
/// `scope` is the linked account the receiver gets it for, `fromAccount` the one the sender
/// acted for, each nil when it is the device's own (Protocol/links.md).
public struct RelayItem: Sendable, Equatable {
    public var from: String
    public var to: String
    public var payload: [UInt8]
    public var code: Int64?
    public var scope: String?
    public var fromAccount: String?

    public init(from: String, to: String, payload: [UInt8], code: Int64? = nil, scope: String? = nil, fromAccount: String? = nil) {
        self.from = from
        self.to = to
        self.payload = payload
        self.code = code
        self.scope = scope
        self.fromAccount = fromAccount
    }
}

/// What became of one `RelayItem` of a group commit.
public enum RelayOutcome: Sendable, Equatable {
    case stored(id: Int64)
    /// Over the quota; the reason says whose, for the sender.
    case refused(String)
    /// Not stored, the others of its group are: the receiver was revoked meanwhile.
    case receiverGone
}

/// A relayed payload in a receiver's queue: the item and the id the store gave it, which orders
/// the queue. Reads through to the item (`record.from`).
@dynamicMemberLookup
public struct RelayRecord: Sendable, Equatable {
    public var id: Int64
    public var item: RelayItem

    public init(id: Int64, _ item: RelayItem) {
        self.id = id
        self.item = item
    }

    public init(id: Int64, from: String, to: String, payload: [UInt8], code: Int64? = nil, scope: String? = nil,
                fromAccount: String? = nil) {
        self.init(id: id, RelayItem(from: from, to: to, payload: payload, code: code, scope: scope, fromAccount: fromAccount))
    }

    public subscript<Value>(dynamicMember keyPath: KeyPath<RelayItem, Value>) -> Value { item[keyPath: keyPath] }
}

/// What the checks of relayed payloads need from the store: each target that is a device (not
/// revoked), by id, and the latest roster of each sender's account that has one, by account.
public struct RelayCheckReads: Sendable, Equatable {
    public var targets: [String: DeviceRecord]
    public var rosters: [String: [UInt8]]

    public init(targets: [String: DeviceRecord], rosters: [String: [UInt8]]) {
        self.targets = targets
        self.rosters = rosters
    }
}

/// One read per item, for a store whose reads are cheap (a file on this machine).
extension ServerStore {
    public func relayCheckReads(targets: [String], senderAccounts: [String]) throws -> RelayCheckReads {
        var devices: [String: DeviceRecord] = [:]
        for id in Set(targets) { devices[id] = try device(id: id) }
        var rosters: [String: [UInt8]] = [:]
        for account in Set(senderAccounts) { rosters[account] = try latestRoster(account: account) }
        return RelayCheckReads(targets: devices, rosters: rosters)
    }
}
