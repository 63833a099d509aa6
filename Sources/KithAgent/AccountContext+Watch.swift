import KithAPI

extension AccountContext {
    /// `watch`: the named contacts only, as a watcher shows them (Protocol/local-api.md §Watch).
    func watch(_ request: WatchRequest) throws -> WatchResult {
        guard try store.session() != nil else { throw AgentError(.notLoggedIn, "this device is not logged in; run `kith login`") }
        guard request.contacts.count <= WatchLimits.contacts else {
            throw AgentError(.invalidRequest, "a watcher shows at most \(WatchLimits.contacts) contacts")
        }
        let contacts = Dictionary(try store.contacts().map { ($0.account, $0) }, uniquingKeysWith: { first, _ in first })
        let unread = try store.unreadCounts()
        return WatchResult(contacts: try request.contacts.map { account in
            guard let contact = contacts[account] else {
                return WatchedContact(account: account, state: "unknown", online: false, onlineDevices: 0, unread: 0)
            }
            let online = try store.contactDevices(account: account).map { Self.entry($0, path: "relay", isThisDevice: false) }
                .filter(\.online).count
            let newest = try store.messages(account: account, limit: 1).last
            return WatchedContact(account: account, state: contact.state.description, online: online > 0, onlineDevices: online,
                                  unread: unread[account] ?? 0, newest: newest.map { WatchLimits.firstLine(of: $0.text) },
                                  newestCode: newest?.code)
        })
    }
}
