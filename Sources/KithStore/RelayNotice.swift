import Foundation

/// What a shared store says, once a commit is done, to every instance about one receiver's new
/// payloads: the payloads themselves when they fit in a notification, so the instance that holds
/// the receiver writes them without reading the store, and where they follow on in the
/// receiver's queue, so it can tell whether it has everything before them.
///
/// `after` is the highest id the receiver's queue held when these were committed (0 for an
/// empty queue), read under the receiver's commit lock: every payload for the receiver
/// committed earlier has an id at or below it, or was deleted (acknowledged, so already
/// delivered). A session that has written everything up to `after` and has nothing left in the
/// store can write `records` at once; any other reads its queue, which holds them too. A
/// notice is a shortcut, never the only copy: one lost or too large costs a read, not a payload.
public struct RelayNotice: Sendable, Equatable {
    public let receiver: String
    public let after: Int64
    /// In id order; nil: not carried (too large for a notification, or an older instance's
    /// notice that names only the receiver) — read the queue.
    public let records: [RelayRecord]?

    public init(receiver: String, after: Int64, records: [RelayRecord]?) {
        self.receiver = receiver
        self.after = after
        self.records = records
    }

    /// PostgreSQL refuses a `NOTIFY` payload of 8,000 bytes or more.
    public static let payloadLimit = 7_900

    /// The notifications for `records` just committed for `receiver` (in id order), whose queue
    /// held ids up to `after` before them: as many notices as it takes to stay under
    /// `payloadLimit`, each following on from the one before; from the first payload too large
    /// to be carried alone, a notice that carries none (the receiver reads its queue).
    public static func payloads(receiver: String, after: Int64, records: [RelayRecord], limit: Int = payloadLimit) -> [String] {
        var payloads: [String] = []
        var previous = after
        var filling: String?
        for record in records {
            let field = " " + fields(record)
            if let notice = filling, notice.utf8.count + field.utf8.count <= limit {
                filling = notice + field
            } else {
                if let notice = filling { payloads.append(notice) }
                let alone = "\(receiver) \(previous)" + field
                guard alone.utf8.count <= limit else {
                    // The receiver reads its queue from what it has: this payload and the rest are there.
                    payloads.append("\(receiver) \(previous) read")
                    return payloads
                }
                filling = alone
            }
            previous = record.id
        }
        if let notice = filling { payloads.append(notice) }
        return payloads
    }

    /// A notice `payloads` made; an older instance's (the receiver alone) as one to read on;
    /// nil for anything else.
    public static func parse(_ payload: String) -> RelayNotice? {
        let parts = payload.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        guard let receiver = parts.first, !receiver.isEmpty else { return nil }
        if parts.count == 1 { return RelayNotice(receiver: receiver, after: 0, records: nil) }
        guard let after = Int64(parts[1]), after >= 0 else { return nil }
        if parts.count == 3, parts[2] == "read" { return RelayNotice(receiver: receiver, after: after, records: nil) }
        let fields = parts.dropFirst(2)
        guard fields.count % 6 == 0 else { return nil }
        var records: [RelayRecord] = []
        var lastID = after
        for start in stride(from: fields.startIndex, to: fields.endIndex, by: 6) {
            let f = Array(fields[start..<start + 6])
            guard let id = Int64(f[0]), id > lastID, !f[1].isEmpty,
                  let payload = f[5] == "-" ? [] : Data(base64Encoded: f[5]).map(Array.init) else { return nil }
            let code: Int64?
            if f[2] == "-" { code = nil } else { guard let value = Int64(f[2]) else { return nil }; code = value }
            records.append(RelayRecord(id: id, from: f[1], to: receiver, payload: payload, code: code,
                                       scope: optional(f[3]), fromAccount: optional(f[4])))
            lastID = id
        }
        return RelayNotice(receiver: receiver, after: after, records: records)
    }

    /// id, sender, code, scope, account acted for, payload: `-` for none (no account name or
    /// device id is `-`; base64 has no `-`), the payload in base64.
    private static func fields(_ record: RelayRecord) -> String {
        let payload = record.payload.isEmpty ? "-" : Data(record.payload).base64EncodedString()
        return [String(record.id), record.from, record.code.map(String.init) ?? "-", record.scope ?? "-",
                record.fromAccount ?? "-", payload].joined(separator: " ")
    }

    private static func optional(_ field: String) -> String? { field == "-" || field.isEmpty ? nil : field }
}
