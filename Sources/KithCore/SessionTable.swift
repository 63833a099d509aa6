/// The UDP sessions a device holds with its siblings, and which one it sends on to each (spec
/// §Path choice, Sessions), decided without sockets or keys: the shell does the cryptography
/// and the I/O and tells the table what happened.
///
/// Crossing handshakes (both sides probe at once) leave several sessions per sibling: a device
/// receives on every one it keeps and sends on one. A session it initiated is used once the
/// response completes it; one it answered only once the initiator's first packet arrives on it
/// (confirmation), so a replayed or lost-response handshake never takes sending over. Generic
/// over the session (`DatagramSession` in the agent) and the address type, so a test can use
/// plain values.
public struct SessionTable<Session: Sendable, Address: Hashable & Sendable>: Sendable {
    public struct Entry: Sendable {
        public let peer: String
        public var session: Session
        /// Where the peer last sent this session's packets from.
        public var address: Address
        public var confirmed: Bool
        public var lastUsed: UInt64
    }

    struct Peer: Sendable {
        var sendIndex: UInt32?
        /// Where to send: the source of the peer's latest authenticated packet, on any session.
        var address: Address?
        /// The newest initiation answered (the replay rule).
        var lastTimestamp: UInt64 = 0
    }

    public private(set) var entries: [UInt32: Entry] = [:]
    private var peers: [String: Peer] = [:]
    /// Sessions kept per sibling besides the one sent on.
    public static var kept: Int { 4 }

    public init() {}

    /// Whether to answer an initiation from `peer` with this timestamp: only one newer than the
    /// last answered, so a replayed initiation gets no answer.
    public mutating func acceptInitiation(from peer: String, timestamp: UInt64) -> Bool {
        guard timestamp > peers[peer, default: Peer()].lastTimestamp else { return false }
        peers[peer, default: Peer()].lastTimestamp = timestamp
        return true
    }

    /// A session this side answered: kept for receiving, sent on once confirmed.
    public mutating func addAnswered(_ index: UInt32, peer: String, session: Session, address: Address, now: UInt64) {
        entries[index] = Entry(peer: peer, session: session, address: address, confirmed: false, lastUsed: now)
        prune(peer)
    }

    /// A session this side initiated, now complete. Returns true if sending moved to it, which
    /// it does unless `keepCurrent` (a working LAN path is not given up for a later NAT path).
    @discardableResult
    public mutating func addCompleted(_ index: UInt32, peer: String, session: Session, address: Address, now: UInt64,
                                      keepCurrent: Bool) -> Bool {
        entries[index] = Entry(peer: peer, session: session, address: address, confirmed: true, lastUsed: now)
        return moveSending(to: index, peer: peer, address: address, keepCurrent: keepCurrent)
    }

    /// An authenticated packet arrived on session `index` from `address`. Returns the peer, and
    /// whether sending moved to this session (its first packet confirmed it).
    public mutating func received(on index: UInt32, from address: Address, now: UInt64,
                                  keepCurrent: (_ peer: String) -> Bool) -> (peer: String, moved: Bool)? {
        // Through the entry's position, in place: a copy of the entry (one per datagram on a busy
        // stream) would share the session's storage, and its next change would copy that.
        guard let position = entries.index(forKey: index) else { return nil }
        let peer = entries.values[position].peer
        let confirming = !entries.values[position].confirmed
        entries.values[position].lastUsed = now
        entries.values[position].address = address
        entries.values[position].confirmed = true
        if peers[peer]?.sendIndex != nil { peers[peer]?.address = address }  // follow a roaming peer
        let moved = confirming && moveSending(to: index, peer: peer, address: address, keepCurrent: keepCurrent(peer))
        return (peer, moved)
    }

    /// The session and address to send to `peer` on, if any.
    public func sendTarget(for peer: String) -> (index: UInt32, address: Address)? {
        guard let state = peers[peer], let index = state.sendIndex, entries.index(forKey: index) != nil,
              let address = state.address else {
            return nil
        }
        return (index, address)
    }

    /// Runs `body` on session `index` (to seal or open, which moves its counters or window).
    public mutating func withSession<R>(_ index: UInt32, _ body: (inout Session) throws -> R) rethrows -> R? {
        // In place, through the entry's position: a copied entry would make the session's replay
        // window copy itself on every packet opened.
        guard let position = entries.index(forKey: index) else { return nil }
        return try body(&entries.values[position].session)
    }

    /// The path left `direct`: send on nothing until a handshake completes again.
    public mutating func stopSending(to peer: String) {
        peers[peer]?.sendIndex = nil
    }

    /// A sibling that left the device list, or whose key changed: its sessions go with it.
    public mutating func forget(_ peer: String) {
        peers[peer] = nil
        entries = entries.filter { $0.value.peer != peer }
    }

    private mutating func moveSending(to index: UInt32, peer: String, address: Address, keepCurrent: Bool) -> Bool {
        defer { prune(peer) }
        if keepCurrent, sendTarget(for: peer) != nil { return false }
        peers[peer, default: Peer()].sendIndex = index
        peers[peer, default: Peer()].address = address
        return true
    }

    /// Keeps a peer's most recently used sessions, and always the one sent on.
    private mutating func prune(_ peer: String) {
        let keep = peers[peer]?.sendIndex
        let mine = entries.filter { $0.value.peer == peer && $0.key != keep }
            .sorted { ($0.value.lastUsed, $0.key) > ($1.value.lastUsed, $1.key) }
        for (index, _) in mine.dropFirst(Self.kept) { entries[index] = nil }
    }
}
