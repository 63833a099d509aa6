/// Auto-approval for a bounded window (`kith approve --auto 10m`), for unattended set-ups:
/// while it is open the primary approves pending devices without asking, up to a number of
/// devices. Off until opened; closes by itself. Pure: the time is passed in (milliseconds, the
/// agent's wall clock).
public struct ApprovalWindow: Sendable, Equatable {
    /// The longest window `open` accepts: one hour.
    public static let maxDurationMillis: UInt64 = 60 * 60 * 1000
    /// How many devices one window approves unless told otherwise.
    public static let defaultMaxDevices = 8

    public enum OpenError: Error, Sendable, Equatable, CustomStringConvertible {
        case zeroDuration
        case tooLong(millis: UInt64)
        case zeroDevices

        public var description: String {
            switch self {
            case .zeroDuration: "an auto-approval window needs a duration"
            case .tooLong(let millis): "an auto-approval window is at most 1h (asked for \(millis / 1000)s)"
            case .zeroDevices: "an auto-approval window approves at least one device"
            }
        }
    }

    /// When the window opened: a clock that goes back before it closes the window.
    public private(set) var openedAtMillis: UInt64 = 0
    /// When the window closes; nil: closed.
    public private(set) var closesAtMillis: UInt64?
    /// How many more devices it approves.
    public private(set) var remaining = 0

    public init() {}

    public mutating func open(now: UInt64, durationMillis: UInt64, maxDevices: Int = defaultMaxDevices) throws(OpenError) {
        guard durationMillis > 0 else { throw .zeroDuration }
        guard durationMillis <= Self.maxDurationMillis else { throw .tooLong(millis: durationMillis) }
        guard maxDevices > 0 else { throw .zeroDevices }
        openedAtMillis = now
        closesAtMillis = now + durationMillis
        remaining = maxDevices
    }

    public mutating func close() {
        closesAtMillis = nil
        remaining = 0
    }

    public func isOpen(now: UInt64) -> Bool {
        guard let closesAtMillis else { return false }
        return openedAtMillis <= now && now < closesAtMillis && remaining > 0
    }

    /// How long it stays open, for `kith status`; nil when closed.
    public func remainingMillis(now: UInt64) -> UInt64? {
        guard isOpen(now: now), let closesAtMillis else { return nil }
        return closesAtMillis - now
    }

    /// Called for each newly pending device: true if it is to be approved now without asking,
    /// which uses up one of the window's devices. A closed or spent window says false.
    public mutating func admit(now: UInt64) -> Bool {
        guard isOpen(now: now) else {
            close()  // closed already, expired or spent
            return false
        }
        remaining -= 1
        return true
    }

    /// Parses the duration people type: a positive whole number with `s`, `m` or `h`
    /// (`90s`, `10m`, `1h`). Nil for anything else, and for zero.
    public static func parseDuration(_ text: String) -> UInt64? {
        guard let unit = text.last, let n = UInt64(text.dropLast()), n > 0,
              text.dropLast().allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        let (product, overflow): (UInt64, Bool)
        switch unit {
        case "s": (product, overflow) = n.multipliedReportingOverflow(by: 1000)
        case "m": (product, overflow) = n.multipliedReportingOverflow(by: 60_000)
        case "h": (product, overflow) = n.multipliedReportingOverflow(by: 3_600_000)
        default: return nil
        }
        return overflow ? nil : product
    }
}
