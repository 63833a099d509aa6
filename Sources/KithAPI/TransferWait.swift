/// What a transfer that does not move is waiting for, and for whom, decided in one place from
/// the facts the agent holds. A transfer with no bytes lately used to show the rate of its last
/// seconds, frozen; a person could not tell a stalled push from a slow one. `nil`: it moves, or
/// it is finished, and the rate says the rest.
public enum TransferWait {
    /// The facts about one transfer at one moment.
    public struct Facts: Sendable, Equatable {
        /// `TransferInfo.state`.
        public var state: String
        public var outgoing: Bool
        /// The other device.
        public var peer: String
        /// The server lists the peer online, or a stream to it is up.
        public var peerOnline: Bool
        /// A stream carries this transfer now.
        public var streamUp: Bool
        /// Bytes moved in the last few seconds.
        public var moving: Bool

        public init(state: String, outgoing: Bool, peer: String, peerOnline: Bool, streamUp: Bool, moving: Bool) {
            self.state = state
            self.outgoing = outgoing
            self.peer = peer
            self.peerOnline = peerOnline
            self.streamUp = streamUp
            self.moving = moving
        }
    }

    /// "for alice-MP-1 to accept", "for alice-PC-2 to come online", "for you to accept", …
    public static func of(_ facts: Facts) -> String? {
        let peer = facts.peer
        switch facts.state {
        case "waiting":
            return facts.outgoing ? "for \(peer) to accept" : "for you to accept (kith accept / kith reject)"
        case "paused":
            return facts.outgoing ? "for room on \(peer)'s disk" : "for room on this device's disk"
        case "offering", "active":
            if facts.moving { return nil }
            if !facts.peerOnline && !facts.streamUp { return "for \(peer) to come online" }
            if !facts.streamUp { return "for a stream to \(peer)" }
            return facts.state == "offering" ? "for \(peer) to take the offer" : nil
        default:
            return nil  // finished: complete, rejected, expired, failed, cancelled
        }
    }
}
