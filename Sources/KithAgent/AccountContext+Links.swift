import KithAPI
import KithCore
import KithNet
import KithStore
import KithWire

/// Links between this account and others (Protocol/links.md): making and removing one, and the
/// list the server sends after every login and change.
extension AccountContext {
    /// `AccountLinks` from the server: kept, and each link made or removed told to the listeners.
    /// A name that is no account name (the server's word, checked like any input) is dropped.
    /// Returns the accounts linked under this one, as kept.
    @discardableResult
    func take(_ links: AccountLinks) -> [String] {
        let before = (try? store.links()) ?? AgentStore.Links()
        let valid = { (name: String) -> Bool in
            guard let problem = AccountRules.problem(withName: name) else { return true }
            self.logger.warning("dropped \(name.debugDescription) from the server's link list: \(problem)")
            return false
        }
        let after = AgentStore.Links(master: links.master.flatMap { valid($0) ? $0 : nil }, linked: links.linked.filter(valid))
        do {
            guard try store.saveLinks(after) else { return after.linked }
        } catch {
            logger.error("cannot store the account's links: \(error)")
            return before.linked
        }
        let was = Set(before.linked + [before.master].compactMap { $0 })
        let now = Set(after.linked + [after.master].compactMap { $0 })
        for account in now.subtracting(was).sorted() {
            logger.info("linked with \(account)")
            publish(AgentEvent(event: .links, contact: account, state: "linked"))
        }
        for account in was.subtracting(now).sorted() {
            logger.info("no longer linked with \(account)")
            publish(AgentEvent(event: .links, contact: account, state: "unlinked"))
        }
        if before.master != nil && before.master != after.master { Task { await self.releaseLinkedDevices(keeping: after.master) } }
        return after.linked
    }

    /// No longer linked under that master (unlinked, or it has another now): on the primary, its
    /// devices leave the roster (Protocol/links.md §Links), so they neither get nor send this
    /// account's messages. Devices of `master`, the master it has now, stay.
    private func releaseLinkedDevices(keeping master: String?) async {
        guard let book = rosterBook, book.holderIsPrimary, let current = book.current,
              let kept = current.releasingLinkedDevices(keeping: master) else { return }
        do {
            try await publishRoster(try current.next(members: kept, issuedAtMillis: now()))
            logger.info("the master's devices left \(current.account)'s roster: the link was removed")
        } catch {
            logger.error("cannot sign a roster without the master's devices: \(error)")
        }
    }

    func link(_ request: AccountLinkRequest) async throws -> AccountEntry {
        let answer = try await serverRequest(.accountLink(.init(account: request.account, password: request.password)),
                                             what: "link \(request.account)")
        guard answer == .ack(.init()) else {
            throw AgentError(.serverRefused, "the server refused the link: \(Self.describe(answer))")
        }
        logger.info("linked \(request.account) under this account")
        var entry = await awaitLinks { $0.linked.contains(request.account) }
        entry.recoveryKey = await makeFirstRoster(forLinked: request.account)
        return entry
    }

    /// An account linked before it had a device of its own takes this device as its first, and
    /// so as its primary (Protocol/links.md §The linked role): its first roster, published for it
    /// on this connection. The server refuses when the account has a device or a roster: its own
    /// primary then approves this device. The recovery key's text when this device is the primary.
    private func makeFirstRoster(forLinked account: String) async -> String? {
        guard let base = connection as? ClientConnection, let session = connectedSession,
              let name = rosterBook?.current?.member(session.deviceID)?.name,
              let (document, recovery) = firstRoster(account: account, deviceID: session.deviceID, name: name)
        else { return nil }
        let answer = try? await LinkedChannel(base: base, account: account).request(.rosterPublish(.init(roster: document))).message
        guard answer == .ack(.init()) else {
            logger.info("\(account) has a device of its own: its primary approves this one (\(answer.map(Self.describe) ?? "no answer"))")
            return nil
        }
        logger.info("this device is the primary of \(account), which had no device; a recovery key was made and shown once")
        return recovery.text
    }

    func unlink(_ request: AccountUnlinkRequest) async throws -> AccountEntry {
        let answer = try await serverRequest(.accountUnlink(.init(account: request.account)), what: "unlink \(request.account)")
        guard answer == .ack(.init()) else {
            throw AgentError(.serverRefused, "the server refused to remove the link: \(Self.describe(answer))")
        }
        logger.info("removed the link with \(request.account)")
        return await awaitLinks { !$0.linked.contains(request.account) && $0.master != request.account }
    }

    /// The accounts linked under this one, as the store remembers them.
    func storedLinks() -> [String] { ((try? store.links()) ?? AgentStore.Links()).linked }

    func setPageHost(_ host: @escaping @Sendable (PageHostEvent) async -> Void) { pageHost = host }

    func setMaster(_ request: AccountSetMasterRequest) async throws -> AccountEntry {
        let answer = try await serverRequest(.accountSetMaster(.init(account: request.account, password: request.password)),
                                             what: "make \(request.account) the master")
        guard answer == .ack(.init()) else {
            throw AgentError(.serverRefused, "the server refused to change the master: \(Self.describe(answer))")
        }
        logger.info("\(request.account) is the master of this account now")
        return await awaitLinks { $0.master == request.account }
    }

    /// This account in `kith accounts`.
    func accountEntry() -> AccountEntry {
        let links = (try? store.links()) ?? AgentStore.Links()
        let summary = summary()
        let role = links.master != nil ? "linked" : links.linked.isEmpty ? "single" : "master"
        return AccountEntry(account: summary.account, owner: summary.owner, role: role, master: links.master,
                            linked: links.linked, unread: (try? store.unreadCounts()) ?? [:], connected: summary.connected)
    }

    /// Sends `message` on the server connection and returns the answer; fails when the server
    /// is away (nothing was asked).
    private func serverRequest(_ message: Message, what: String) async throws -> Message {
        guard let connection, !connection.isClosed else {
            throw AgentError(.serverUnreachable, "the server is not connected; could not \(what)")
        }
        return try await connection.request(message).message
    }

    /// The entry once the server's new link list has arrived (it follows the `Ack`), or after a
    /// second as it stands then.
    private func awaitLinks(_ arrived: (AgentStore.Links) -> Bool) async -> AccountEntry {
        for _ in 0..<20 {
            if let links = try? store.links(), arrived(links) { break }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return accountEntry()
    }
}
