import KithStore
import KithWire
import Logging
import NIOCore

/// Who is online, and the two things that follow from it: the device list every online device
/// of an account receives, and the delivery of relayed payloads queued for a device.
///
/// Deliveries to one device are serialised here (one flush at a time, resumed from the last
/// relay id sent), so a payload is sent once per session and in the order the store accepted it.
actor Presence {
    struct Session {
        let connectionID: UInt64
        let account: String
        let outbound: NIOAsyncChannelOutboundWriter<Envelope>
        let close: @Sendable () -> Void
        var deliveredUpTo: Int64 = 0
        var flushing = false
        var flushAgain = false
    }

    private let store: any ServerStore
    private let logger: Logger
    private let now: @Sendable () -> UInt64
    private var online: [String: Session] = [:]
    private var revision: UInt64 = 0

    init(store: any ServerStore, logger: Logger, now: @escaping @Sendable () -> UInt64) {
        self.store = store
        self.logger = logger
        self.now = now
    }

    func isOnline(_ deviceID: String) -> Bool { online[deviceID] != nil }

    /// Registers the connection as the device's session; an older session of the same device is closed.
    func goOnline(deviceID: String, account: String, connectionID: UInt64,
                  outbound: NIOAsyncChannelOutboundWriter<Envelope>, close: @escaping @Sendable () -> Void) async {
        if let previous = online[deviceID], previous.connectionID != connectionID { previous.close() }
        online[deviceID] = Session(connectionID: connectionID, account: account, outbound: outbound, close: close)
        await pushDeviceList(account: account)
        await flush(deviceID)
    }

    func goOffline(deviceID: String, connectionID: UInt64) async {
        guard let session = online[deviceID], session.connectionID == connectionID else { return }
        online[deviceID] = nil
        try? store.touch(deviceID: deviceID, now: now())
        await pushDeviceList(account: session.account)
    }

    /// Sends the account's device list to each of its online devices.
    func pushDeviceList(account: String) async {
        guard let devices = try? store.devices(account: account) else { return }
        revision = max(revision + 1, now())  // grows across restarts too
        let list = DeviceList(revision: revision, devices: devices.map { device in
            DeviceInfo(deviceID: device.id, name: device.name, terminalType: device.terminalType, key: device.key,
                       online: online[device.id] != nil, lastSeenMillis: device.lastSeenMillis,
                       clientVersion: device.clientVersion, addresses: device.addresses)
        })
        for device in devices {
            guard let session = online[device.id] else { continue }
            try? await session.outbound.write(Envelope(.deviceList(list)))
        }
    }

    /// Sends what is queued for `deviceID` and not yet sent on its current session.
    func flush(_ deviceID: String) async {
        guard let session = online[deviceID] else { return }
        guard !session.flushing else {
            online[deviceID]?.flushAgain = true
            return
        }
        online[deviceID]?.flushing = true
        let connectionID = session.connectionID
        repeat {
            online[deviceID]?.flushAgain = false
            guard let current = online[deviceID], current.connectionID == connectionID else { return }
            let batch: [RelayRecord]
            do {
                batch = try store.pendingRelays(to: deviceID, after: current.deliveredUpTo, limit: 256)
            } catch {
                logger.error("relay queue of \(deviceID) unreadable: \(error)")
                break
            }
            for record in batch {
                do {
                    try await current.outbound.write(Envelope(.relayDeliver(.init(
                        relayID: UInt64(record.id), from: record.from, payload: record.payload))))
                } catch {
                    break  // the connection went away; the next session starts over from the store
                }
                online[deviceID]?.deliveredUpTo = record.id
            }
            if batch.count == 256 { online[deviceID]?.flushAgain = true }
        } while online[deviceID]?.flushAgain == true && online[deviceID]?.connectionID == connectionID
        if online[deviceID]?.connectionID == connectionID { online[deviceID]?.flushing = false }
    }
}
