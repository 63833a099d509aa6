/// Connections that are not yet logged in (or, on an agent's transfer port, not yet through the
/// handshake and the offer), counted per source address and in total, and what a new one gets
/// (Protocol/spec.md §Sessions, Before login; §File transfer, Streams). A connection costs the server a
/// descriptor and buffers before it proves anything; these caps, with the login deadline, keep a
/// flood of half-open, slow or silent connections from shutting out everyone else. Counting
/// stops when a connection logs in (or presents a transit ticket): an account's own devices
/// are never limited here.
public struct ConnectionAdmission: Sendable {
    public struct Limits: Sendable, Equatable, CustomStringConvertible {
        /// Seconds a connection has to log in (or present a transit ticket) before it is closed.
        public var deadlineSeconds: Int64 = 20
        public var perAddress = 64
        public var total = 4096

        public init(deadlineSeconds: Int64 = 20, perAddress: Int = 64, total: Int = 4096) {
            self.deadlineSeconds = deadlineSeconds
            self.perAddress = perAddress
            self.total = total
        }

        public var description: String {
            "login deadline \(deadlineSeconds) s, at most \(perAddress) connections per address and \(total) in all before login"
        }
    }

    public enum Decision: Sendable, Equatable {
        case admit
        /// Closed at once; the cause, for the log.
        case refuse(Cause)
    }

    public enum Cause: String, Sendable, Equatable {
        case perAddress = "too many connections from this address that have not logged in"
        case total = "too many connections that have not logged in"
    }

    public let limits: Limits
    public private(set) var waiting: [String: Int] = [:]
    public private(set) var total = 0

    public init(limits: Limits) { self.limits = limits }

    /// A connection from `address` opened: admitted (and counted until `leave`), or refused.
    public mutating func arrive(from address: String) -> Decision {
        if total >= limits.total { return .refuse(.total) }
        if waiting[address, default: 0] >= limits.perAddress { return .refuse(.perAddress) }
        waiting[address, default: 0] += 1
        total += 1
        return .admit
    }

    /// An admitted connection logged in, or closed before it did: it no longer counts.
    public mutating func leave(from address: String) {
        guard let count = waiting[address] else { return }
        waiting[address] = count > 1 ? count - 1 : nil
        total -= 1
    }
}

/// One log line per cause per interval: the first time a cause happens it is logged, later
/// times within `intervalMillis` are counted, and the next line says how many there were. A
/// flood writes a few lines, not one per connection.
public struct ThrottledLog: Sendable {
    public let intervalMillis: UInt64
    private var causes: [String: (loggedAt: UInt64, since: Int)] = [:]

    public init(intervalMillis: UInt64 = 10_000) { self.intervalMillis = intervalMillis }

    /// Nil to stay quiet; else the line to log (with how many were not logged before it).
    public mutating func line(_ cause: String, now: UInt64) -> String? {
        if let last = causes[cause], now < last.loggedAt + intervalMillis {
            causes[cause]?.since += 1
            return nil
        }
        let skipped = causes[cause]?.since ?? 0
        causes[cause] = (now, 0)
        return skipped == 0 ? cause : "\(cause) (and \(skipped) more since the last such line)"
    }
}
