import KithWire

/// How a viewed-notice quotes a message's text so that a device holding the same message under
/// another identifier can still match it (spec §Read state).
public struct Clip: Sendable, Equatable {
    /// `start`, `middle` or `end`; never `unknown` (an item with an unknown mode has no clip).
    public var mode: ClipMode
    /// The threshold in bytes; 256 by default.
    public var limit: UInt16

    public static let `default` = Clip(mode: .start, limit: 256)

    public init(mode: ClipMode, limit: UInt16) {
        self.mode = mode
        self.limit = limit
    }

    /// At most `limit` bytes of `text`'s UTF-8, cut on bytes: the whole text if it is short enough.
    public func cut(_ text: some Collection<UInt8>) -> [UInt8] {
        let bytes = Array(text), limit = Int(limit)
        guard bytes.count > limit else { return bytes }
        switch mode {
        case .start: return Array(bytes.prefix(limit))
        case .end: return Array(bytes.suffix(limit))
        case .middle:
            let from = (bytes.count - limit) / 2
            return Array(bytes[from..<from + limit])
        case .unknown(let value): preconditionFailure("a clip of unknown mode \(value): clip(of:) admits only 1, 2 and 3")
        }
    }
}

extension ClipMode {
    /// The mode people type, `--notice-clip start`: one of the schema's names.
    public init?(name: String) {
        guard let match = Self.allCases.first(where: { $0.description == name }) else { return nil }
        self = match
    }
}

/// A message as the read-state rules need to see it.
public struct HeldMessage: Sendable, Equatable {
    public var code: UInt64
    /// The sending device (`bob-PC-1`).
    public var sender: String
    public var text: String
    public var viewed: Bool

    public init(code: UInt64, sender: String, text: String, viewed: Bool) {
        self.code = code
        self.sender = sender
        self.text = text
        self.viewed = viewed
    }
}

/// A viewed item that matched nothing yet, kept until its message arrives or it expires.
public struct HeldNotice: Sendable, Equatable {
    public var id: Int64
    public var item: ViewedItem
    public var viewedAtMillis: UInt64
    public var viewedBy: String
    public var expiresAtMillis: UInt64

    public init(id: Int64, item: ViewedItem, viewedAtMillis: UInt64, viewedBy: String, expiresAtMillis: UInt64) {
        self.id = id
        self.item = item
        self.viewedAtMillis = viewedAtMillis
        self.viewedBy = viewedBy
        self.expiresAtMillis = expiresAtMillis
    }
}

/// The read-state rules of spec §Read state, without storage: given what a device holds, they say
/// what a notice or an arriving message changes. The agent gathers the inputs from its store and
/// carries the outcome out in one transaction. Applying is idempotent and independent of order:
/// a notice before its message is held, and a held notice meets its message when it arrives.
public enum ReadState {
    /// What one viewed item does on a device.
    public enum ItemOutcome: Sendable, Equatable {
        /// Mark the message with this code viewed.
        case markViewed(code: UInt64)
        /// The message it names is viewed already: nothing to do.
        case alreadyViewed
        /// No message matches yet: hold the item until one arrives or it expires.
        case hold
    }

    /// The account part of a device id: everything before the first `-` (account names have none).
    public static func account(ofDevice id: String) -> Substring {
        id.prefix { $0 != "-" }
    }

    /// Decides one item. `exact` is the message held under the item's code, if any; `sameAccount`
    /// are unviewed messages from the sender's account (oldest first), searched by clip when the
    /// item has one and no message has its code.
    public static func apply(_ item: ViewedItem, exact: HeldMessage?, sameAccount: [HeldMessage]) -> ItemOutcome {
        if let exact { return exact.viewed ? .alreadyViewed : .markViewed(code: exact.code) }
        if let clip = clip(of: item),
           let match = sameAccount.first(where: { !$0.viewed && matches($0, item: item, clip: clip) }) {
            return .markViewed(code: match.code)
        }
        return .hold
    }

    /// The held notices an arriving message consumes: those naming its code, and those whose clip
    /// matches its text (from the same account). Each consumed notice is deleted with the message's
    /// commit; if any consumed it, the message is stored viewed (as the first of them says).
    public static func arrival(of message: HeldMessage, held: [HeldNotice], viewedUpTo: UInt64?,
                               now: UInt64) -> (consumed: [HeldNotice], viewed: Bool) {
        let live = held.filter { $0.expiresAtMillis > now }
        let byCode = live.filter { $0.item.code == message.code }
        let byClip = byCode.isEmpty
            ? live.filter { notice in clip(of: notice.item).map { matches(message, item: notice.item, clip: $0) } ?? false }.prefix(1)
            : []
        let consumed = byCode + byClip
        let covered = viewedUpTo.map { message.code <= $0 } ?? false
        return (consumed, !consumed.isEmpty || covered)
    }

    /// Held notices past their expiry, to delete.
    public static func expired(_ held: [HeldNotice], now: UInt64) -> [HeldNotice] {
        held.filter { $0.expiresAtMillis <= now }
    }

    /// The item a device sends when `message` is viewed on it.
    public static func item(for message: HeldMessage, sentAtMillis: UInt64, clip: Clip?) -> ViewedItem {
        ViewedItem(code: message.code, sentAtMillis: sentAtMillis, sender: message.sender,
                   clipMode: clip?.mode, clipLimit: clip?.limit, clip: clip?.cut(message.text.utf8))
    }

    private static func clip(of item: ViewedItem) -> Clip? {
        guard let mode = item.clipMode, ClipMode.allCases.contains(mode), let limit = item.clipLimit,
              let bytes = item.clip, bytes.count <= Int(limit)
        else { return nil }
        return Clip(mode: mode, limit: limit)
    }

    private static func matches(_ message: HeldMessage, item: ViewedItem, clip: Clip) -> Bool {
        account(ofDevice: message.sender) == account(ofDevice: item.sender) && clip.cut(message.text.utf8) == item.clip
    }
}
