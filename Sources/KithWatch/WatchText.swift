import KithAPI
import KithCore

/// How the watcher shows its contacts: lines for a terminal, one line per change for a pipe,
/// and the JSON object status bars (Waybar, i3blocks) take. Pure.
public enum WatchText {
    /// One contact on the board: its number (the key that opens it), name, presence, unread
    /// count and the newest message's first line.
    public static func line(_ contact: WatchedContact, number: Int? = nil) -> String {
        var parts = [number.map { "\($0) " } ?? "", contact.account.printable]
        switch contact.state {
        case "contact": parts.append(contact.online ? "  online" : "  offline")
        case "unknown": parts.append("  not a contact")
        default: parts.append("  \(contact.state)")
        }
        parts.append(contact.unread > 0 ? "  \(contact.unread) unread" : "  no unread")
        if let newest = contact.newest { parts.append("  “\(newest.printable)”") }
        return parts.joined()
    }

    /// The whole board, numbered from 1, with the keys under it.
    public static func board(_ contacts: [WatchedContact], account: String) -> [String] {
        guard !contacts.isEmpty else {
            return ["watching nobody for \(account.printable): `kith watch add CONTACT` picks someone"]
        }
        return ["watching for \(account.printable)"] + contacts.enumerated().map { line($1, number: $0 + 1) }
            + ["keys: 1–\(min(contacts.count, 9)) open a contact's messages · r refresh · q quit"]
    }

    /// The status-bar shape: `text` (short), `tooltip` (a line per contact), `class` (`unread`
    /// when anyone has unread messages, else `online` when anyone is online, else `offline`).
    public struct StatusBar: Codable, Equatable, Sendable {
        public var text: String
        public var tooltip: String
        public var `class`: String
        /// The contacts themselves, for scripts that want more than a bar.
        public var contacts: [WatchedContact]
        /// Where this state came from: `cache` (the watcher's database, before any fetch), `agent` or `server`.
        public var from: String?
    }

    public static func statusBar(_ contacts: [WatchedContact]) -> StatusBar {
        let unread = contacts.reduce(0) { $0 + $1.unread }
        let text = contacts.map { "\($0.account)\($0.online ? "●" : "○")\($0.unread > 0 ? " \($0.unread)" : "")" }
            .joined(separator: "  ")
        let tooltip = contacts.map { line($0) }.joined(separator: "\n")
        let cls = unread > 0 ? "unread" : contacts.contains(where: \.online) ? "online" : "offline"
        return StatusBar(text: text, tooltip: tooltip, class: cls, contacts: contacts)
    }
}
