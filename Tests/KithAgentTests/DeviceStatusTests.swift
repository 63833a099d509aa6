import KithAPI
import Testing

/// `kith devices` never contradicts itself: the inputs that used to disagree, each given to the
/// one derivation (`DeviceStatus`), and what it says.
@Suite struct DeviceStatusTests {
    static func facts(this: Bool = false, server online: Bool = false, path: String = "relay", role: String? = "secondary",
                      primary: Bool = false, rosterHeld: Bool = true, ownRole: String = "secondary") -> DeviceStatus.Facts {
        DeviceStatus.Facts(isThisDevice: this, serverSaysOnline: online, path: path, rosterRole: role, isRosterPrimary: primary,
                           rosterHeld: rosterHeld, thisDeviceRole: ownRole)
    }

    @Test func aLiveDirectPathIsOnlineWhateverTheServerSays() {
        #expect(DeviceStatus.derive(Self.facts(server: false, path: "direct")).online)
        #expect(DeviceStatus.derive(Self.facts(server: false, path: "lan")).online)
        #expect(!DeviceStatus.derive(Self.facts(server: false, path: "relay")).online)
        #expect(DeviceStatus.derive(Self.facts(server: true, path: "relay")).online)
    }

    @Test func thisDeviceIsOnline() {
        #expect(DeviceStatus.derive(Self.facts(this: true, server: false, path: "self")).online)
    }

    @Test func thePrimaryIsNeverPending() {
        // The roster lists it as primary; no member row (or a stale one) must not make it pending.
        #expect(DeviceStatus.derive(Self.facts(role: nil, primary: true)).role == "primary")
        #expect(DeviceStatus.derive(Self.facts(this: true, role: nil, primary: true, ownRole: "pending")).role == "primary")
    }

    @Test func withoutARosterNobodyIsCalledPending() {
        #expect(DeviceStatus.derive(Self.facts(role: nil, rosterHeld: false)).role == "unknown")
        #expect(DeviceStatus.derive(Self.facts(role: nil, rosterHeld: true)).role == "pending")
        #expect(DeviceStatus.derive(Self.facts(this: true, role: nil, rosterHeld: false, ownRole: "pending")).role == "pending")
    }

    @Test func anOfflineDeviceWasNeverLastSeenNow() {
        let now: UInt64 = 1_000_000_000
        #expect(DeviceStatus.lastSeen(online: false, lastSeenMillis: now, nowMillis: now) == "1 s ago")
        #expect(DeviceStatus.lastSeen(online: false, lastSeenMillis: now + 5_000, nowMillis: now) == "1 s ago")  // its clock ahead
        #expect(DeviceStatus.lastSeen(online: false, lastSeenMillis: now - 3_000, nowMillis: now) == "3 s ago")
        #expect(DeviceStatus.lastSeen(online: false, lastSeenMillis: now - 600_000, nowMillis: now) == "10 min ago")
        #expect(DeviceStatus.lastSeen(online: false, lastSeenMillis: 0, nowMillis: now) == "never")
        #expect(DeviceStatus.lastSeen(online: true, lastSeenMillis: now - 600_000, nowMillis: now) == "now")
    }
}
