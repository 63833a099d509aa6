/// One line of the `events` stream: something changed that a user interface shows.
public struct AgentEvent: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        /// A note from another device of the account.
        case note
        /// A message from a contact (`codes` has its code).
        case message
        /// Messages turned viewed (`codes`), here or on another device (`by`).
        case viewed
        /// The contact list changed.
        case contacts
        /// The path to another device changed (`from`, `path`: lan, direct or relay).
        case path
        /// A file transfer changed state (`transfer`: its id, `state`, `from`: the other device).
        case transfer
        /// A device logged in and waits for approval (`from`).
        case pending
        /// This device accepted a new roster (`state`: its role in it).
        case roster
        /// This device accepted a new policy for `from`.
        case policy
        /// A contact's keys changed (`contact`; `state`: its trust, `key changed` when a roster
        /// under an unproven key arrived and messages to it stop), or were verified or trusted.
        case contactKeys
        /// A contact's device went on- or offline (`contact`, `from`: the device, `state`:
        /// `online` or `offline`).
        case presence
        /// The account's links changed: one was made or removed (`contact`: the other account,
        /// `state`: `linked` or `unlinked`).
        case links
    }

    public var event: Kind
    /// The account of this agent the event belongs to (one agent may hold several).
    public var account: String?
    public var from: String?
    public var contact: String?
    public var codes: [UInt64]?
    /// The contact's unread count after this event: what an unread reminder shows.
    public var unread: Int?
    public var by: String?
    public var path: String?
    public var transfer: String?
    public var state: String?
    /// On `message`: false when this device's policy says messages are silent (stored, no alert).
    public var notify: Bool?

    public init(event: Kind, from: String? = nil, contact: String? = nil, codes: [UInt64]? = nil, unread: Int? = nil,
                by: String? = nil, path: String? = nil, transfer: String? = nil, state: String? = nil) {
        self.transfer = transfer
        self.state = state
        self.path = path
        self.event = event
        self.from = from
        self.contact = contact
        self.codes = codes
        self.unread = unread
        self.by = by
    }
}
