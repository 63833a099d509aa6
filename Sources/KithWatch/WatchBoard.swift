import KithAPI

/// The watcher's decisions (issue: the light watcher; Protocol/local-api.md §Watch): what to
/// fetch and when, what changed, what to draw and keep, what a key does. It holds the watched
/// contacts as last shown; the shell (`kith watch`) fetches from the agent or the server, draws,
/// saves to the watcher's database and reads keys, and tells the board what happened. Pure:
/// time comes in with the events.
public struct WatchBoard {
    public enum Refresh: Equatable, Sendable {
        /// On every change the source pushes (and, as a safety net, every `pushSafetyMillis`).
        case push
        /// Every so many seconds, whatever happens in between.
        case poll(seconds: Int)
        /// Only when asked (the `r` key, or a refresh request).
        case manual
    }

    public enum Event: Equatable, Sendable {
        /// What the watcher's database held from its last run (drawn before any network traffic).
        case started(cached: [WatchedContact], nowMillis: UInt64)
        case fetched([WatchedContact], nowMillis: UInt64)
        case fetchFailed(String, nowMillis: UInt64)
        /// A change the source pushed: which contact it concerns, if it says.
        case pushed(contact: String?, nowMillis: UInt64)
        case tick(nowMillis: UInt64)
        case key(Character)
    }

    public enum Action: Equatable, Sendable {
        /// Ask the source for the watched contacts' state now.
        case fetch
        /// Draw the board; `changed`: the contacts that differ from what was drawn before.
        case show([WatchedContact], changed: [String])
        /// Keep this state in the watcher's database (what a restart after a crash draws first).
        case save([WatchedContact])
        /// Show this contact's messages (which marks them viewed).
        case open(String)
        /// Say this under the board (a failed fetch; the board stays as it was).
        case notice(String)
        case quit
    }

    /// In push mode, a fetch at least this often anyway (a missed push costs a minute at most).
    public static let pushSafetyMillis: UInt64 = 60_000

    public let watched: [String]
    public let refresh: Refresh
    public private(set) var shown: [WatchedContact] = []
    private var fetching = false
    private var fetchAgain = false
    private var lastFetchAt: UInt64?
    /// What is shown came from the cache: the first fetch is drawn even if nothing changed (it is live now).
    private var showingCache = false
    /// The notice said last: the same failure again is not said again.
    private var lastNotice: String?

    public init(watched: [String], refresh: Refresh) {
        self.watched = watched
        self.refresh = refresh
    }

    public mutating func handle(_ event: Event) -> [Action] {
        switch event {
        case let .started(cached, now):
            let known = cached.filter { watched.contains($0.account) }
            var actions: [Action] = []
            if !known.isEmpty {
                shown = known
                showingCache = true
                actions.append(.show(known, changed: []))
            }
            return actions + fetch(now)
        case let .fetched(contacts, now):
            fetching = false
            lastNotice = nil
            lastFetchAt = now
            let changed = contacts.filter { new in shown.first { $0.account == new.account } != new }.map(\.account)
            var actions: [Action] = []
            if !changed.isEmpty || shown.count != contacts.count || showingCache {
                showingCache = false
                shown = contacts
                actions += [.show(contacts, changed: changed), .save(contacts)]
            }
            if fetchAgain {
                fetchAgain = false
                actions += fetch(now)
            }
            return actions
        case let .fetchFailed(why, now):
            fetching = false
            lastFetchAt = now
            fetchAgain = false
            guard why != lastNotice else { return [] }
            lastNotice = why
            return [.notice(why)]
        case let .pushed(contact, now):
            guard refresh == .push else { return [] }
            if let contact, !watched.contains(contact) { return [] }  // an unwatched contact costs nothing
            return fetch(now)
        case let .tick(now):
            guard let last = lastFetchAt else { return [] }
            switch refresh {
            case .poll(let seconds) where now &- last >= UInt64(seconds) * 1000: return fetch(now)
            case .push where now &- last >= Self.pushSafetyMillis: return fetch(now)
            default: return []
            }
        case .key(let key):
            switch key {
            case "r", "R": return fetch(lastFetchAt ?? 0)
            case "q", "Q": return [.quit]
            default:
                guard let digit = key.wholeNumberValue, digit >= 1, digit <= shown.count else { return [] }
                return [.open(shown[digit - 1].account)]
            }
        }
    }

    /// One fetch at a time: a change during a fetch asks for one more after it, not one each.
    private mutating func fetch(_ now: UInt64) -> [Action] {
        if fetching {
            fetchAgain = true
            return []
        }
        fetching = true
        lastFetchAt = now
        return [.fetch]
    }
}
