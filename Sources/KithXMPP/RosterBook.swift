/// An account's XMPP roster as the client keeps it between logins: the items by bare JID and
/// the version to ask from next time (RFC 6121 §2.6). The login's answer replaces it or leaves
/// it alone; each push changes one item. What changed is returned, for the merged contacts.
public struct XMPPRosterBook: Equatable, Sendable {
    public private(set) var items: [JID: XMPPRosterItem]
    public private(set) var version: String?

    public init(items: [XMPPRosterItem] = [], version: String? = nil) {
        self.items = Dictionary(items.map { ($0.jid.bare, $0) }, uniquingKeysWith: { _, last in last })
        self.version = version
    }

    /// What a login's answer or a push did to the book.
    public struct Change: Equatable, Sendable {
        public var added: [JID] = []
        public var updated: [JID] = []
        public var removed: [JID] = []

        public init(added: [JID] = [], updated: [JID] = [], removed: [JID] = []) {
            (self.added, self.updated, self.removed) = (added, updated, removed)
        }

        public var isEmpty: Bool { added.isEmpty && updated.isEmpty && removed.isEmpty }
    }

    /// The items, sorted by JID: a stable order for lists and storage.
    public var sorted: [XMPPRosterItem] { items.values.sorted { $0.jid.description < $1.jid.description } }

    /// The login's roster answer: `.unchanged` keeps everything; `.full` is the truth.
    @discardableResult
    public mutating func apply(_ answer: XMPPRosterAnswer) -> Change {
        guard case .full(let list, _) = answer else { return Change() }
        let new = XMPPRosterBook(items: list.filter { $0.subscription != .remove })
        var change = Change()
        for (jid, item) in new.items {
            if let old = items[jid] {
                if old != item { change.updated.append(jid) }
            } else {
                change.added.append(jid)
            }
        }
        change.removed = items.keys.filter { new.items[$0] == nil }
        items = new.items
        version = answer.versionToKeep(previous: version)
        return change.sortedByJID()
    }

    /// A roster push (RFC 6121 §2.1.6): one item added, changed or (`subscription='remove'`) removed.
    @discardableResult
    public mutating func apply(push item: XMPPRosterItem, version pushed: String?) -> Change {
        let jid = item.jid.bare
        var change = Change()
        if item.subscription == .remove {
            if items.removeValue(forKey: jid) != nil { change.removed = [jid] }
        } else if let old = items[jid] {
            if old != item { change.updated = [jid] }
            items[jid] = item
        } else {
            change.added = [jid]
            items[jid] = item
        }
        if let pushed { version = pushed }
        return change
    }
}

extension XMPPRosterBook.Change {
    func sortedByJID() -> Self {
        func order(_ list: [JID]) -> [JID] { list.sorted { $0.description < $1.description } }
        return .init(added: order(added), updated: order(updated), removed: order(removed))
    }
}
