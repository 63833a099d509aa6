import KithNet
import KithStore
import KithWire

/// The pages of linked accounts on a master's device (Protocol/links.md §One connection, many
/// accounts): one `AccountContext` per account linked under a master this agent holds, with its
/// own rows of the store, riding on the master's connection — what the server sends for it
/// arrives wrapped on that connection, and what it sends goes out wrapped (`LinkedChannel`).
extension Agent {
    /// Wires a context to the agent as a possible master: its links, connection and wrapped
    /// messages reach its pages. The links the store remembers make the pages at once, before
    /// the server says them again.
    func host(pagesOf master: AccountContext, owner: String) async {
        await master.setPageHost { [weak self] event in await self?.pageEvent(event, master: owner) }
        await pagesChanged(await master.storedLinks(), master: owner)
    }

    private func pageEvent(_ event: AccountContext.PageHostEvent, master: String) async {
        switch event {
        case .links(let linked):
            await pagesChanged(linked, master: master)
        case .connected(let connection, let session):
            masterConnections[master] = (connection, session)
            for page in pages(of: master) {
                await page.context.attach(LinkedChannel(base: connection, account: page.name), session: Self.pageSession(session, page.name))
            }
        case .disconnected:
            masterConnections[master] = nil
            for page in pages(of: master) { await page.context.detach(problem: nil) }
        case .message(let account, let message):
            guard let page = accounts.first(where: { $0.master == master && $0.name == account }),
                  let (connection, session) = masterConnections[master] else { return }
            await page.context.handleServerMessage(message, session: Self.pageSession(session, account),
                                                   connection: LinkedChannel(base: connection, account: account))
        }
    }

    /// Makes a page for each account linked under `master` that has none, and stops the pages
    /// of accounts no longer linked (their rows stay in the store, as a logged-out account's do).
    private func pagesChanged(_ linked: [String], master: String) async {
        guard let masterContext = context(owner: master), let session = await masterContext.sessionToResume() else { return }
        for page in pages(of: master) where !linked.contains(page.name) {
            await page.context.stop()
            accounts.removeAll { $0.owner == page.owner }
            logger.info("the page of \(page.name) is gone: the link was removed")
        }
        for account in linked where !pages(of: master).contains(where: { $0.name == account }) {
            let owner = AgentStore.owner(account: account, invite: session.invite)
            let store = self.store.view(owner: owner)
            do {
                try store.savePageSession(invite: session.invite, account: account, deviceID: session.deviceID)
            } catch {
                logger.error("cannot keep the page of \(account): \(error)")
                continue
            }
            var logger = self.logger
            logger[metadataKey: "account"] = "\(account)"
            var settings = self.settings
            settings.udp = nil  // a page is reached through the server: its master's UDP socket is the master's
            let page = AccountContext(profile: paths.profile, store: store, identity: identity, logger: logger,
                                      settings: settings, group: group, now: now,
                                      emit: { [events] event in events.publish(event) })
            await page.startAsPage()
            accounts.append(HeldAccount(owner: owner, context: page, master: master))
            logger.info("holding \(account), linked under \(session.account), as a page")
            if let (connection, masterSession) = masterConnections[master] {
                await page.attach(LinkedChannel(base: connection, account: account), session: Self.pageSession(masterSession, account))
            }
        }
    }

    private func pages(of master: String) -> [HeldAccount] {
        accounts.filter { $0.master == master }
    }

    /// A page's session: its master's device and invite, under the page's account.
    private static func pageSession(_ master: AgentStore.Session, _ account: String) -> AgentStore.Session {
        AgentStore.Session(invite: master.invite, account: account, deviceID: master.deviceID, token: [], expiresAtMillis: .max)
    }
}
