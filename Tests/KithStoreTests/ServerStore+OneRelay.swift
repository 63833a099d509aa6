import KithStore

extension ServerStore {
    /// One relayed payload as a group of one: its id, or the quota's refusal thrown as
    /// `StoreError.quotaExceeded` (what the tests of ordering and quotas read most easily).
    func enqueueRelay(from: String, to: String, payload: [UInt8], code: Int64?, scope: String?, fromAccount: String?,
                      quota: RelayQuota? = nil, now: UInt64) throws -> Int64 {
        let item = RelayItem(from: from, to: to, payload: payload, code: code, scope: scope, fromAccount: fromAccount)
        switch try commitRelays([item], deleting: [], quota: quota, now: now).first {
        case .stored(let id): return id
        case .refused(let reason): throw StoreError.quotaExceeded(reason)
        case .receiverGone: throw StoreError.notFound(to)
        case nil: throw StoreError.conflict("the store answered no outcome")
        }
    }

    /// Deletes acknowledged payloads (a group with nothing to add).
    func deleteRelays(_ acknowledged: [(id: Int64, to: String)]) throws {
        _ = try commitRelays([], deleting: acknowledged, quota: nil, now: 0)
    }
}
