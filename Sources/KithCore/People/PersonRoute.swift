/// How reachable an endpoint is now, from its network's presence.
public enum Reachability: Int, Comparable, Sendable, Codable {
    case offline = 0, away = 1, online = 2

    public static func < (a: Reachability, b: Reachability) -> Bool { a.rawValue < b.rawValue }
}

/// Which endpoint a message to a person goes over (MISSION.md §4: over whichever network the
/// person is on).
public enum PersonRoute {
    /// The most reachable endpoint (online over away over offline); among equals, the one this
    /// conversation used last (`lastUsed`: the caller passes it while the conversation is
    /// ongoing), then a Kith endpoint (end-to-end encrypted), then the first in order. With
    /// `kithOnly`, only Kith endpoints. When every endpoint is offline a Kith one still wins: the
    /// server keeps a message for a device that is away. Nil when the person has no endpoint left
    /// to use.
    public static func choose(_ person: Person, reachability: [Endpoint: Reachability], lastUsed: Endpoint? = nil,
                              kithOnly: Bool = false) -> Endpoint? {
        let candidates = person.endpoints.filter { !kithOnly || $0.network.isKith }
        func level(_ e: Endpoint) -> Reachability { reachability[e] ?? .offline }
        guard let best = candidates.map(level).max() else { return nil }
        let top = candidates.filter { level($0) == best }
        if let lastUsed, top.contains(lastUsed) { return lastUsed }
        return top.first { $0.network.isKith } ?? top.first
    }
}
