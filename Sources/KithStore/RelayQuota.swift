/// How much one device may have waiting on the server (spec §Relay, Quotas): what is queued for
/// one receiving device, and what one sending device has queued for all receivers, in payloads and
/// in bytes. Without it one contact's device could fill the server's disk for a device that is
/// offline (2,000 messages of 30 KB took 3.8 s). Checked in the transaction that would store the
/// payload, so concurrent senders cannot overshoot it.
public struct RelayQuota: Sendable, Equatable {
    /// Payloads and bytes waiting for, or from, one device.
    public struct Usage: Sendable, Equatable {
        public var count: Int
        public var bytes: Int
        public init(count: Int = 0, bytes: Int = 0) {
            self.count = count
            self.bytes = bytes
        }
    }

    public var perReceiver: Usage
    public var perSender: Usage

    public init(perReceiver: Usage = Usage(count: 10_000, bytes: 256 << 20), perSender: Usage = Usage(count: 2_000, bytes: 64 << 20)) {
        self.perReceiver = perReceiver
        self.perSender = perSender
    }

    /// Why a payload of `bytes` may not be stored now, or nil: `receiver` and `sender` are what
    /// waits already.
    public func refusal(adding bytes: Int, to receiverID: String, waiting receiver: Usage,
                        from senderID: String, queued sender: Usage) -> String? {
        if receiver.count + 1 > perReceiver.count || receiver.bytes + bytes > perReceiver.bytes {
            return "\(receiverID) has \(receiver.count) payloads (\(receiver.bytes >> 10) KiB) waiting on the server, its limit; "
                + "it is kept and sent again once \(receiverID) has taken some"
        }
        if sender.count + 1 > perSender.count || sender.bytes + bytes > perSender.bytes {
            return "\(senderID) has \(sender.count) payloads (\(sender.bytes >> 10) KiB) waiting on the server for devices that have "
                + "not taken them, its limit; it is kept and sent again once they have"
        }
        return nil
    }
}
