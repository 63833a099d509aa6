import KithAPI

/// `watchPage` (Protocol/local-api.md §The watch page): the watcher's web page for one account,
/// served by the agent on 127.0.0.1 from the account's own data and events. One page per account:
/// opening it again closes the previous one, whose key then opens nothing.
extension Agent {
    func watchPage(_ request: WatchPageRequest, account name: String?) async throws -> WatchPageResult {
        let context = try context(for: name)
        guard let held = accounts.first(where: { $0.context === context }) else {
            throw AgentError(.notLoggedIn, "this device is not logged in; run `kith login`")
        }
        let watched = request.contacts
        _ = try await context.watch(WatchRequest(contacts: watched))  // logged in, and a few contacts only
        let source = WatchPageServer.Source(
            account: held.name,
            watch: { try await context.watch(WatchRequest(contacts: watched)) },
            messages: { try await context.inbox(InboxRequest(limit: WatchPageServer.messageLimit, contact: $0)).messages },
            read: { _ = try await context.read(ReadRequest(contact: $0, all: true)) },
            events: { [weak self] in await self?.subscribe() ?? AsyncStream { $0.finish() } })
        let page = try await WatchPageServer.start(watched: watched, source: source, logger: logger, group: group)
        let previous = watchPages.updateValue(page, forKey: held.owner)
        await previous?.stop()
        return WatchPageResult(address: page.gate.address, port: page.gate.port)
    }
}
