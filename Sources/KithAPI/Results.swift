/// What the local API's methods answer (Protocol/local-api.md §Methods).

public struct StatusResult: Codable, Sendable, Equatable {
    public var profile: String
    public var agentVersion: String
    public var pid: Int32
    public var fingerprint: String
    public var server: String?
    public var connected: Bool
    /// While connected: the server address (HOST:PORT) the connection goes to — one of the
    /// invite's, or another instance the server named.
    public var instance: String?
    public var account: String?
    public var deviceID: String?
    public var sessionExpiresAtMillis: UInt64?
    /// Items in the outbox: notes, message copies and viewed-notices the server does not hold yet.
    public var pendingNotes: Int
    /// Viewed-notices held because their message has not arrived here.
    public var heldNotices: Int
    /// Outbox items (notes, notices, message copies) handed on since the agent started: directly
    /// to the receiving device, and through the server.
    public var sentDirect: Int
    public var sentThroughServer: Int
    public var lastError: String?
    /// This device's place in the roster it holds: "primary", "secondary" or "pending".
    public var role: String?
    /// The roster it holds ("roster 3"); nil while it holds none.
    public var roster: String?
    /// That roster's primary.
    public var primary: String?
    /// Messages and rosters from contacts refused since the agent started: from devices their
    /// primary did not approve, or signed by keys their chain does not prove.
    public var refusedFromContacts: Int?
    /// Every account this agent holds, the default one (the fields above) first.
    public var accounts: [AccountSummary]?

    public init(profile: String, agentVersion: String, pid: Int32, fingerprint: String, server: String? = nil,
                connected: Bool, instance: String? = nil, account: String? = nil, deviceID: String? = nil,
                sessionExpiresAtMillis: UInt64? = nil, pendingNotes: Int, heldNotices: Int, sentDirect: Int,
                sentThroughServer: Int, lastError: String? = nil, role: String? = nil, roster: String? = nil,
                primary: String? = nil, refusedFromContacts: Int? = nil) {
        self.profile = profile
        self.agentVersion = agentVersion
        self.pid = pid
        self.fingerprint = fingerprint
        self.server = server
        self.connected = connected
        self.instance = instance
        self.account = account
        self.deviceID = deviceID
        self.sessionExpiresAtMillis = sessionExpiresAtMillis
        self.pendingNotes = pendingNotes
        self.heldNotices = heldNotices
        self.sentDirect = sentDirect
        self.sentThroughServer = sentThroughServer
        self.lastError = lastError
        self.role = role
        self.roster = roster
        self.primary = primary
        self.refusedFromContacts = refusedFromContacts
    }
}

/// One account an agent holds, as `status` lists it.
public struct AccountSummary: Codable, Sendable, Equatable {
    public var account: String
    /// The account with its server's key (`alice@3f2a…`): what `account` in a request names when
    /// one account name is on two servers.
    public var owner: String
    public var server: String?
    public var deviceID: String?
    public var connected: Bool
    public var role: String?
    public var lastError: String?

    public init(account: String, owner: String, server: String? = nil, deviceID: String? = nil, connected: Bool,
                role: String? = nil, lastError: String? = nil) {
        self.account = account
        self.owner = owner
        self.server = server
        self.deviceID = deviceID
        self.connected = connected
        self.role = role
        self.lastError = lastError
    }
}

public struct LoginResultAPI: Codable, Sendable, Equatable {
    public var account: String
    public var deviceID: String
    /// "primary" (the account's first device), "secondary", or "pending" (waiting for approval).
    public var role: String?
    /// This device's key fingerprint, to compare on the primary before approving it.
    public var fingerprint: String?
    /// Shown once, when this device made the account's first roster: keep it offline.
    public var recoveryKey: String?

    public init(account: String, deviceID: String, role: String? = nil, fingerprint: String? = nil,
                recoveryKey: String? = nil) {
        self.account = account
        self.deviceID = deviceID
        self.role = role
        self.fingerprint = fingerprint
        self.recoveryKey = recoveryKey
    }
}

public struct DeviceEntry: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var type: String
    public var online: Bool
    public var lastSeenMillis: UInt64
    public var fingerprint: String
    /// How this device reaches it: `lan` (directly, on a shared network), `direct` (directly,
    /// through NATs after hole punching), `relay` (through the server), or `self`.
    public var path: String
    public var clientVersion: String
    public var isThisDevice: Bool
    /// The round-trip time on the direct path, in milliseconds.
    public var rttMillis: Double?
    /// Why the path is what it is (why relayed, say).
    public var pathDetail: String?
    /// For the account's own devices: its role in the held roster (`DeviceStatus`); nil for a
    /// contact's device.
    public var role: String?

    public init(id: String, name: String, type: String, online: Bool, lastSeenMillis: UInt64, fingerprint: String,
                path: String, clientVersion: String, isThisDevice: Bool, rttMillis: Double? = nil,
                pathDetail: String? = nil) {
        self.id = id
        self.name = name
        self.type = type
        self.online = online
        self.lastSeenMillis = lastSeenMillis
        self.fingerprint = fingerprint
        self.path = path
        self.clientVersion = clientVersion
        self.isThisDevice = isThisDevice
        self.rttMillis = rttMillis
        self.pathDetail = pathDetail
    }
}

public struct DevicesResult: Codable, Sendable, Equatable {
    public var account: String
    public var devices: [DeviceEntry]

    public init(account: String, devices: [DeviceEntry]) {
        self.account = account
        self.devices = devices
    }
}

public struct SendResult: Codable, Sendable, Equatable {
    /// The note's or message's id (hex), the same on every copy.
    public var noteID: String
    public var to: String
    /// True when every copy was handed on — to the server, which holds it, or directly to the
    /// device that acknowledged it; false when some wait in the outbox. (The name is the JSON's
    /// from when everything went through the server.)
    public var relayed: Bool
    /// For a message to a contact: the devices it was sealed for, one copy each.
    public var devices: [String]?
    /// For a message to a contact that the server already holds: its server-assigned code.
    public var code: UInt64?
    /// When it waits in the outbox for something other than the server (this device's approval),
    /// what it waits for.
    public var waiting: String?
    /// For a message to a person (Protocol/local-api.md §People): the profile's network it went
    /// over (`kith:alice@KEY`, `xmpp:alice@example.org`).
    public var network: String?
    /// What the user must know about this send: over XMPP, that Kith did not encrypt it end to end.
    public var warning: String?

    public init(noteID: String, to: String, relayed: Bool, devices: [String]? = nil, code: UInt64? = nil, waiting: String? = nil,
                network: String? = nil, warning: String? = nil) {
        self.noteID = noteID
        self.to = to
        self.relayed = relayed
        self.waiting = waiting
        self.devices = devices
        self.code = code
        self.network = network
        self.warning = warning
    }
}

public struct NoteEntry: Codable, Sendable, Equatable {
    public var noteID: String
    public var from: String
    public var to: String
    public var text: String
    public var sentAtMillis: UInt64
    public var receivedAtMillis: UInt64?

    public init(noteID: String, from: String, to: String, text: String, sentAtMillis: UInt64,
                receivedAtMillis: UInt64? = nil) {
        self.noteID = noteID
        self.from = from
        self.to = to
        self.text = text
        self.sentAtMillis = sentAtMillis
        self.receivedAtMillis = receivedAtMillis
    }
}

public struct InboxResult: Codable, Sendable, Equatable {
    /// Notes from this account's other devices.
    public var notes: [NoteEntry]
    /// Messages from contacts, oldest first.
    public var messages: [MessageEntry]
    /// Unread messages per contact account; contacts with none are absent.
    public var unread: [String: Int]
    /// The network that carried these messages: `kith:ACCOUNT@SERVERKEY`, end-to-end encrypted.
    public var network: String?
    /// Messages received over the profile's XMPP accounts, not end-to-end encrypted by Kith (the
    /// CLI adds them from `xmppInbox` when no account is named).
    public var xmpp: [ConversationEntry]?

    public init(notes: [NoteEntry], messages: [MessageEntry], unread: [String: Int], network: String? = nil) {
        self.notes = notes
        self.messages = messages
        self.unread = unread
        self.network = network
    }
}

public struct MessageEntry: Codable, Sendable, Equatable {
    /// The server-assigned code: `kith read CODE`.
    public var code: UInt64
    /// The sending device.
    public var from: String
    /// The sending account.
    public var contact: String
    public var text: String
    public var sentAtMillis: UInt64
    public var receivedAtMillis: UInt64
    public var viewed: Bool
    public var viewedAtMillis: UInt64?
    /// The device of this account it was viewed on.
    public var viewedBy: String?

    public init(code: UInt64, from: String, contact: String, text: String, sentAtMillis: UInt64,
                receivedAtMillis: UInt64, viewed: Bool, viewedAtMillis: UInt64? = nil, viewedBy: String? = nil) {
        self.code = code
        self.from = from
        self.contact = contact
        self.text = text
        self.sentAtMillis = sentAtMillis
        self.receivedAtMillis = receivedAtMillis
        self.viewed = viewed
        self.viewedAtMillis = viewedAtMillis
        self.viewedBy = viewedBy
    }
}

public struct ReadResult: Codable, Sendable, Equatable {
    /// The message read (empty for "all from a contact").
    public var messages: [MessageEntry]
    /// How many messages this call turned viewed.
    public var newlyViewed: Int

    public init(messages: [MessageEntry], newlyViewed: Int) {
        self.messages = messages
        self.newlyViewed = newlyViewed
    }
}

public struct ContactEntry: Codable, Sendable, Equatable {
    public var account: String
    /// `contact`, `requested` (waiting for them) or `incoming` (waiting for you).
    public var state: String
    public var devices: [DeviceEntry]
    public var onlineDevices: Int
    public var unread: Int
    /// How far this device trusts the contact's keys: `no roster`, `unverified`, `verified` or
    /// `key changed` (messages to it stop until `contactTrust`). Nil for requests.
    public var trust: String?
    /// What the person should know about the contact's keys, for people.
    public var warning: String?
    /// The contact's roster this device holds ("roster 3"): their devices that get and may send messages.
    public var roster: String?
    /// The devices of that roster.
    public var approvedDevices: [String]?

    public init(account: String, state: String, devices: [DeviceEntry], onlineDevices: Int, unread: Int,
                trust: String? = nil, warning: String? = nil, roster: String? = nil,
                approvedDevices: [String]? = nil) {
        self.account = account
        self.state = state
        self.devices = devices
        self.onlineDevices = onlineDevices
        self.unread = unread
        self.trust = trust
        self.warning = warning
        self.roster = roster
        self.approvedDevices = approvedDevices
    }
}

/// A contact's safety code, and whether it is verified (`contactVerify`, `contactTrust`).
public struct SafetyCodeResult: Codable, Sendable, Equatable {
    public var contact: String
    /// Forty digits in eight groups; the same on the contact's screen when both hold the real keys.
    public var code: String
    /// `unverified`, `verified` or `key changed`.
    public var trust: String
    public var verified: Bool
    /// What happened, for people.
    public var note: String?

    public init(contact: String, code: String, trust: String, verified: Bool, note: String? = nil) {
        self.contact = contact
        self.code = code
        self.trust = trust
        self.verified = verified
        self.note = note
    }
}

public struct ContactsResult: Codable, Sendable, Equatable {
    public var contacts: [ContactEntry]

    public init(contacts: [ContactEntry]) {
        self.contacts = contacts
    }
}

public struct EmptyResult: Codable, Sendable, Equatable {
    public init() {}
}

public struct DiscoveredEntry: Codable, Sendable, Equatable {
    /// The DNS-SD service instance name.
    public var name: String
    /// IPv4:port it resolved to.
    public var address: String
    /// The key fingerprint its TXT record claims (nil: not a Kith record).
    public var fingerprint: String?
    /// Whether its TXT record is a Kith record.
    public var kith: Bool
    public var protocolVersion: UInt16?
    /// The device of this account it claims to be (its account tag and fingerprint match).
    public var device: String?
    /// True once a handshake with that device's key succeeded at this address: only then is
    /// it trusted, and only as that device.
    public var verified: Bool
    /// This agent's own announcement.
    public var isThisDevice: Bool

    public init(name: String, address: String, fingerprint: String? = nil, kith: Bool, protocolVersion: UInt16? = nil,
                device: String? = nil, verified: Bool, isThisDevice: Bool) {
        self.name = name
        self.address = address
        self.fingerprint = fingerprint
        self.kith = kith
        self.protocolVersion = protocolVersion
        self.device = device
        self.verified = verified
        self.isThisDevice = isThisDevice
    }
}

public struct DiscoverResult: Codable, Sendable, Equatable {
    /// Whether DNS-SD works here (avahi-daemon reachable).
    public var available: Bool
    public var problem: String?
    public var services: [DiscoveredEntry]

    public init(available: Bool, problem: String? = nil, services: [DiscoveredEntry]) {
        self.available = available
        self.problem = problem
        self.services = services
    }
}

/// One file transfer, either way, as `transfers`, `transfer`, `push`, `accept` and `reject` show it.
public struct TransferInfo: Codable, Sendable, Equatable {
    /// 32 hex digits; any unique start of it names the transfer in requests.
    public var id: String
    /// "out" (this device sends) or "in".
    public var direction: String
    /// The other device.
    public var peer: String
    /// offering, waiting, active, paused, complete, rejected, expired, failed or cancelled.
    public var state: String
    /// Why it is paused, failed, rejected or expired, or what the last attempt ran into.
    public var reason: String?
    public var files: Int
    /// Up to five of the top-level names offered.
    public var names: [String]
    public var totalBytes: UInt64
    /// Bytes the receiver holds verified (in place or in whole checked chunks).
    public var verifiedBytes: UInt64
    /// Sender: bytes put on the wire so far, resends included.
    public var sentBytes: UInt64?
    /// The stream's path while one is up: lan, direct or relay; for a finished transfer, the
    /// path it finished over (until the agent restarts).
    public var path: String?
    /// The stream's AEAD, with `path`: AES-256-GCM where both devices have AES instructions, else
    /// ChaCha20-Poly1305 (spec §Handshakes, Transport cipher).
    public var cipher: String?
    /// Over the last few seconds, while it runs.
    public var bytesPerSecond: Double?
    /// Receiver: the folder it lands in, and the top-level names it got there.
    public var folder: String?
    public var landed: [String]?
    /// The receive permission the sender asked for: direct or ask.
    public var requested: String
    public var createdMillis: UInt64
    public var finishedMillis: UInt64?
    /// While waiting for an answer: when the offer expires.
    public var expiresAtMillis: UInt64?
    /// What the transfer waits for while it does not move, for people: "for alice-MP-1 to
    /// accept", "for alice-MP-1 to come online" (`TransferWait`); nil while it moves or is finished.
    public var waitingFor: String?
    /// In the answer to `push` only: links and special files inside the folders pushed, left out.
    public var skipped: [SkippedEntry]?

    public init(id: String, direction: String, peer: String, state: String, reason: String? = nil, files: Int,
                names: [String], totalBytes: UInt64, verifiedBytes: UInt64, sentBytes: UInt64? = nil,
                path: String? = nil, bytesPerSecond: Double? = nil, folder: String? = nil, landed: [String]? = nil,
                requested: String, createdMillis: UInt64, finishedMillis: UInt64? = nil,
                expiresAtMillis: UInt64? = nil) {
        self.id = id
        self.direction = direction
        self.peer = peer
        self.state = state
        self.reason = reason
        self.files = files
        self.names = names
        self.totalBytes = totalBytes
        self.verifiedBytes = verifiedBytes
        self.sentBytes = sentBytes
        self.path = path
        self.bytesPerSecond = bytesPerSecond
        self.folder = folder
        self.landed = landed
        self.requested = requested
        self.createdMillis = createdMillis
        self.finishedMillis = finishedMillis
        self.expiresAtMillis = expiresAtMillis
    }
}

/// A file `push` left out, and why ("a symbolic link", "a FIFO (named pipe)").
public struct SkippedEntry: Codable, Sendable, Equatable {
    public var path: String
    public var reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }
}

public struct TransfersResult: Codable, Sendable, Equatable {
    public var transfers: [TransferInfo]

    public init(transfers: [TransferInfo]) {
        self.transfers = transfers
    }
}
