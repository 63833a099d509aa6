/// What `devices` says about one of the account's devices, derived in one place from facts that
/// can disagree: the server's presence lags a direct path that is up (or the server is down),
/// a roster may not have arrived yet, and clocks differ. So the list never contradicts itself: a
/// device with a live direct path is online, the roster's primary is never pending, and an
/// offline device was last seen some seconds ago, never "now".
public struct DeviceStatus: Sendable, Equatable {
    public var online: Bool
    /// `primary`, `secondary`, `linked`, `pending` (the roster does not list it with this key),
    /// or `unknown` (this device holds no roster yet, so it cannot tell).
    public var role: String

    /// The facts about one device at one moment.
    public struct Facts: Sendable, Equatable {
        public var isThisDevice: Bool
        /// The server lists it online.
        public var serverSaysOnline: Bool
        /// `self`, `lan`, `direct` or `relay`: `lan` and `direct` are up only while the device answers.
        public var path: String
        /// Its role in the held roster, for its id and key; nil when the roster does not list it so.
        public var rosterRole: String?
        /// It is the held roster's primary (id and key).
        public var isRosterPrimary: Bool
        /// This device holds a roster.
        public var rosterHeld: Bool
        /// This device's own role (`AccountContext.rosterRole`), for the row of this device.
        public var thisDeviceRole: String

        public init(isThisDevice: Bool, serverSaysOnline: Bool, path: String, rosterRole: String?, isRosterPrimary: Bool,
                    rosterHeld: Bool, thisDeviceRole: String) {
            self.isThisDevice = isThisDevice
            self.serverSaysOnline = serverSaysOnline
            self.path = path
            self.rosterRole = rosterRole
            self.isRosterPrimary = isRosterPrimary
            self.rosterHeld = rosterHeld
            self.thisDeviceRole = thisDeviceRole
        }
    }

    public init(online: Bool, role: String) {
        self.online = online
        self.role = role
    }

    public static func derive(_ facts: Facts) -> DeviceStatus {
        let online = facts.isThisDevice || facts.serverSaysOnline || facts.path == "lan" || facts.path == "direct"
        let role: String
        if facts.isRosterPrimary {
            role = "primary"
        } else if facts.isThisDevice {
            role = facts.thisDeviceRole
        } else if let listed = facts.rosterRole {
            role = listed
        } else {
            role = facts.rosterHeld ? "pending" : "unknown"
        }
        return DeviceStatus(online: online, role: role)
    }

    /// The LAST SEEN of a device: "now" while it is online; else how long ago, at least a second
    /// (its clock or the server's may be ahead of this one), or "never".
    public static func lastSeen(online: Bool, lastSeenMillis: UInt64, nowMillis: UInt64) -> String {
        if online { return "now" }
        guard lastSeenMillis > 0 else { return "never" }
        return phrase(secondsAgo: max(1, (nowMillis > lastSeenMillis ? nowMillis - lastSeenMillis : 0) / 1000))
    }

    /// "12 s ago", "3 min ago", "5 h ago", "2 days ago".
    public static func phrase(secondsAgo seconds: UInt64) -> String {
        switch seconds {
        case ..<120: "\(seconds) s ago"
        case ..<7200: "\(seconds / 60) min ago"
        case ..<172_800: "\(seconds / 3600) h ago"
        default: "\(seconds / 86400) days ago"
        }
    }
}
