/// A UDP address a sibling may be reached at, and where it came from (spec §Endpoints).
public struct Candidate: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// An address on one of the device's own interfaces: reachable on a shared LAN.
        case lan
        /// The address the server saw the device's socket at: its NAT's public mapping.
        case direct
    }

    /// `HOST:PORT`.
    public var address: String
    public var kind: Kind

    public init(_ address: String, _ kind: Kind) {
        self.address = address
        self.kind = kind
    }

    public var description: String { "\(address) (\(kind.rawValue))" }
}

/// How one device reaches one sibling, decided from events alone (spec §Path choice): probe the
/// sibling's candidates, use the first pair whose handshake completes, keep it alive with
/// keepalives, fall back to the relay when it goes quiet, and keep trying to upgrade, backing
/// off. Time comes in with every event; the shell sends what the actions say and calls `tick`
/// on a timer. Which session a side sends on does not matter to the other (a receiver finds
/// the session by its index), so both sides winning different pairs is fine.
public struct PathMachine: Sendable, Equatable {
    public enum Mode: Equatable, Sendable {
        /// Through the server; `reason` says why, for `kith status --paths`.
        case relay(reason: String)
        /// Handshakes are out to every candidate; the relay carries traffic meanwhile.
        case probing
        /// A handshake completed and the peer has been heard from recently.
        case direct(Candidate)
    }

    public enum Action: Equatable, Sendable {
        /// Send a handshake initiation to each of these addresses.
        case probe([Candidate])
        /// Send a keepalive (a Ping) on the direct session.
        case keepalive
        /// Run a new handshake on the direct path: fresh keys every `rekeyAfter` (spec §Rekeying).
        case rekey(Candidate)
        /// The mode changed: tell the user interface, move traffic.
        case changed(Mode)
    }

    public struct Timing: Equatable, Sendable {
        /// Between two rounds of handshake initiations while probing.
        public var probeInterval: UInt64 = 250
        /// Probing that long without a completed handshake gives up (until the next attempt).
        public var probeWindow: UInt64 = 3000
        /// A keepalive goes out after this long without sending on a direct path.
        public var keepaliveInterval: UInt64 = 1000
        /// A direct path that long silent is dead: back to the relay.
        public var deadAfter: UInt64 = 3000
        /// The first retry after a failure; it doubles up to `maxRetry`.
        public var firstRetry: UInt64 = 1000
        public var maxRetry: UInt64 = 60_000
        /// A direct path gets new keys this often (a new handshake; the old session stays until
        /// the new one carries traffic).
        public var rekeyAfter: UInt64 = 120_000

        public init() {}
    }

    public private(set) var mode: Mode = .relay(reason: "no UDP address known for the device")
    public private(set) var candidates: [Candidate] = []
    /// The latest round-trip time measured on the direct path, in milliseconds.
    public private(set) var rttMillis: Double?
    public let timing: Timing
    private var probeStartedAt: UInt64 = 0
    private var lastProbeAt: UInt64 = 0
    private var lastHeardAt: UInt64 = 0
    private var lastSentAt: UInt64 = 0
    private var keyedAt: UInt64 = 0
    private var nextAttemptAt: UInt64 = 0
    private var failures: UInt64 = 0
    private var lastFailure = ""

    public init(timing: Timing = Timing()) {
        self.timing = timing
    }

    public var isDirect: Bool {
        if case .direct = mode { return true }
        return false
    }

    /// Whether a session that completed through `address` should leave sending where it is: a
    /// working LAN path is not given up for a path through NATs that completed later (a new
    /// session at the path's own address, a rekey, always takes over).
    public func keepsCurrentPath(over address: String) -> Bool {
        guard case .direct(let current) = mode, current.kind == .lan, current.address != address else { return false }
        return !candidates.contains { $0.address == address && $0.kind == .lan }
    }

    /// The server's device list (or the cache of it) gave the sibling's candidates.
    public mutating func candidatesChanged(_ new: [Candidate], now: UInt64) -> [Action] {
        guard new != candidates else { return [] }
        candidates = new
        if case .direct(let current) = mode {
            // The path stays; what it is called may change (it began before the peer's addresses came).
            guard let known = new.first(where: { $0.address == current.address }), known != current else { return [] }
            return change(to: .direct(known))
        }
        if new.isEmpty { return change(to: .relay(reason: "no UDP address known for the device")) }
        failures = 0
        return startProbing(now: now)
    }

    /// Called on a timer (every 100 ms or so).
    public mutating func tick(now: UInt64) -> [Action] {
        switch mode {
        case .probing:
            if now >= probeStartedAt + timing.probeWindow {
                lastFailure = candidates.contains { $0.kind == .direct }
                    ? "no reply to probes of \(candidates.count) address(es): a NAT on the way may map per destination or drop them"
                    : "no reply to probes of \(candidates.count) LAN address(es): not on the same network"
                return fail(now: now, reason: lastFailure)
            }
            if now >= lastProbeAt + timing.probeInterval {
                lastProbeAt = now
                return [.probe(candidates)]
            }
            return []
        case .relay:
            guard !candidates.isEmpty, now >= nextAttemptAt else { return [] }
            return startProbing(now: now)
        case .direct(let candidate):
            if now >= lastHeardAt + timing.deadAfter {
                failures = 0
                return fail(now: now, reason: "the direct path went silent for \(timing.deadAfter / 1000) s")
            }
            if now >= keyedAt + timing.rekeyAfter {
                keyedAt = now  // once per interval, whether or not that handshake completes
                return [.rekey(candidate)]
            }
            if now >= lastSentAt + timing.keepaliveInterval {
                lastSentAt = now
                return [.keepalive]
            }
            return []
        }
    }

    /// A handshake with the sibling completed, in either role, with the packet from `address`.
    public mutating func established(address: String, now: UInt64) -> [Action] {
        lastHeardAt = now
        lastSentAt = now
        keyedAt = now
        failures = 0
        let candidate = candidates.first { $0.address == address } ?? Candidate(address, .direct)
        guard mode != .direct(candidate) else { return [] }
        return change(to: .direct(candidate))
    }

    /// An authenticated packet from the sibling arrived on the direct session.
    public mutating func heard(now: UInt64) {
        lastHeardAt = max(lastHeardAt, now)
    }

    /// Something was sent on the direct session.
    public mutating func sent(now: UInt64) {
        lastSentAt = max(lastSentAt, now)
    }

    public mutating func measured(rttMillis sample: Double) {
        rttMillis = rttMillis.map { 0.75 * $0 + 0.25 * sample } ?? sample
    }

    /// A message sent directly was not acknowledged in time: the path is not usable now.
    public mutating func deliveryFailed(now: UInt64) -> [Action] {
        guard isDirect else { return [] }
        return fail(now: now, reason: "a message sent directly was not acknowledged")
    }

    private mutating func startProbing(now: UInt64) -> [Action] {
        probeStartedAt = now
        lastProbeAt = now
        return change(to: .probing) + [.probe(candidates)]
    }

    private mutating func fail(now: UInt64, reason: String) -> [Action] {
        let delay = min(timing.maxRetry, timing.firstRetry << min(failures, 16))
        failures += 1
        nextAttemptAt = now + delay
        rttMillis = nil
        return change(to: .relay(reason: "\(reason); next attempt in \(max(1, delay / 1000)) s"))
    }

    private mutating func change(to new: Mode) -> [Action] {
        guard new != mode else { return [] }
        mode = new
        return [.changed(new)]
    }
}
