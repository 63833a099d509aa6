/// Which UDP streams this device has open with each sibling, and what to do with a stream frame
/// that arrives (spec §UDP stream, "Opening and closing", "Limits"): the decisions, without the
/// streams themselves, so the rules are tested without sockets. The shell keeps a `ReliableStream`
/// per open id and does what `classify` says.
public struct StreamDirectory<Peer: Hashable & Sendable>: Sendable {
    /// At most this many open streams with one sibling, both directions together (spec §UDP stream, "Limits").
    public static var maxStreamsPerPeer: Int { 8 }
    /// Closed ids remembered per sibling, so a late frame of a closed stream does not open it again.
    public static var rememberedClosed: Int { 64 }

    public enum Verdict: Equatable, Sendable {
        /// The frame belongs to an open stream.
        case deliver
        /// The peer opens a stream with this frame: make it, then deliver the frame.
        case accept
        /// Not for an open stream: answer with a close frame of this code (closes are never answered).
        case reply(CloseFrame.Code)
        /// Drop it without an answer.
        case drop(String)
    }

    private var open: [Peer: Set<UInt32>] = [:]
    private var closed: [Peer: [UInt32]] = [:]

    public init() {}

    public func streams(with peer: Peer) -> Set<UInt32> { open[peer] ?? [] }
    public func isOpen(_ id: UInt32, with peer: Peer) -> Bool { open[peer]?.contains(id) == true }

    /// Decides about a frame from `peer`. `localOpensEven`: this side opens the even ids (its
    /// static key sorts lower than the peer's), the peer the odd ones; or the other way round.
    public func classify(_ frame: StreamFrame, from peer: Peer, localOpensEven: @autoclosure () -> Bool) -> Verdict {
        let id = frame.streamID
        if isOpen(id, with: peer) { return .deliver }
        if case .close = frame { return .drop("a close for stream \(id), which is not open") }
        let peerOpened = (id % 2 == 0) != localOpensEven()
        guard case .segment(let segment) = frame, segment.sequence == 0, segment.first, peerOpened,
              closed[peer]?.contains(id) != true
        else { return .reply(.unknownStream) }
        guard streams(with: peer).count < Self.maxStreamsPerPeer else { return .reply(.tooManyStreams) }
        return .accept
    }

    /// A fresh id for a stream this side opens, of its own parity, not open or recently closed;
    /// nil when the limit is reached.
    public func newID(with peer: Peer, localOpensEven: Bool, random: () -> UInt32) -> UInt32? {
        guard streams(with: peer).count < Self.maxStreamsPerPeer else { return nil }
        while true {
            let candidate = (random() & ~1) | (localOpensEven ? 0 : 1)
            if !isOpen(candidate, with: peer) && closed[peer]?.contains(candidate) != true { return candidate }
        }
    }

    public mutating func opened(_ id: UInt32, with peer: Peer) {
        open[peer, default: []].insert(id)
    }

    public mutating func closed(_ id: UInt32, with peer: Peer) {
        guard open[peer]?.remove(id) != nil else { return }
        if open[peer]?.isEmpty == true { open[peer] = nil }
        var recent = closed[peer] ?? []
        recent.append(id)
        if recent.count > Self.rememberedClosed { recent.removeFirst(recent.count - Self.rememberedClosed) }
        closed[peer] = recent
    }

    /// The peer left (or its key changed): its streams end; returns their ids.
    public mutating func forget(_ peer: Peer) -> Set<UInt32> {
        closed[peer] = nil
        return open.removeValue(forKey: peer) ?? []
    }
}
