import KithCore
import KithStore
import KithWire

/// Linked accounts (Protocol/links.md §Links, §The link list): making and removing a link, and
/// the list each device of the two accounts is sent. The rules are `ServerRules.link` and
/// `ServerRules.unlink`; this reads the store for them and carries out what they allow.
extension ServerSession {
    func link(_ request: AccountLink, from device: DeviceRecord) async -> Message {
        let now = server.now()
        if let refusal = await passwordRefusal(account: request.account, password: request.password, for: "link", now: now) {
            return refusal
        }
        let store = server.store
        let facts: ServerRules.LinkFacts
        do {
            facts = ServerRules.LinkFacts(callerMaster: try store.master(of: device.account),
                                          callerLinkedCount: try store.linkedAccounts(of: device.account).count,
                                          targetMaster: try store.master(of: request.account),
                                          targetHasLinked: !(try store.linkedAccounts(of: request.account)).isEmpty)
        } catch {
            logger.error("cannot read the links of \(device.account) and \(request.account): \(error)")
            return Self.error(.internalError, "the server could not read its links")
        }
        if case .refused(let code, let reason) = ServerRules.link(request.account, under: device.account, facts: facts) {
            return Self.error(code, reason)
        }
        do {
            try store.link(master: device.account, linked: request.account, now: now)
        } catch StoreError.conflict {
            return Self.error(.conflict, "\(request.account) is linked under another account")
        } catch {
            logger.error("cannot store the link \(device.account) → \(request.account): \(error)")
            return Self.error(.internalError, "the server could not store the link")
        }
        logger.info("\(device.id) linked \(request.account) under \(device.account)")
        await pushLinks(device.account, request.account)
        await server.presence.pushDeviceList(account: request.account)  // the master's devices join its list
        return .ack(.init())
    }

    func unlink(_ account: String, from device: DeviceRecord) async -> Message {
        let store = server.store
        let link: (master: String, linked: String)?
        if (try? store.master(of: account)) == device.account {
            link = (device.account, account)
        } else if (try? store.master(of: device.account)) == account {
            link = (account, device.account)
        } else {
            link = nil
        }
        do throws(RosterKeeper.Refusal) {
            try await server.rosters.mayRemoveLink(with: account, link: link, caller: device)
        } catch {
            return Self.error(error)
        }
        guard let link else { return Self.error(.notFound, "\(device.account) and \(account) are not linked") }
        do {
            try store.removeLink(master: link.master, linked: link.linked)
        } catch {
            logger.error("cannot remove the link \(link.master) → \(link.linked): \(error)")
            return Self.error(.internalError, "the server could not remove the link")
        }
        logger.info("\(device.id) removed the link \(link.master) → \(link.linked)")
        await pushLinks(link.master, link.linked)
        await server.presence.pushDeviceList(account: link.linked)  // without the master's devices
        return .ack(.init())
    }

    func setMaster(_ request: AccountSetMaster, from device: DeviceRecord) async -> Message {
        let now = server.now()
        if let refusal = await passwordRefusal(account: request.account, password: request.password, for: "set-master", now: now) {
            return refusal
        }
        let store = server.store
        let linked = (try? store.linkedAccounts(of: device.account)) ?? []
        do throws(RosterKeeper.Refusal) {
            try await server.rosters.maySetMaster(request.account, linked: linked, caller: device)
        } catch {
            return Self.error(error)
        }
        do {
            try store.setMaster(request.account, replacing: device.account, now: now)
        } catch {
            logger.error("cannot make \(request.account) the master of \(device.account): \(error)")
            return Self.error(.internalError, "the server could not change the master")
        }
        logger.info("\(device.id) made \(request.account) the master of \(device.account)")
        let concerned = [request.account] + linked.filter { $0 != request.account } + [device.account]
        for account in concerned {
            await server.presence.broadcast(Self.links(of: account, in: store), account: account)
            await server.presence.pushDeviceList(account: account)
        }
        return .ack(.init())
    }

    /// The new link lists, to every online device of both accounts.
    private func pushLinks(_ accounts: String...) async {
        for account in accounts {
            await server.presence.broadcast(Self.links(of: account, in: server.store), account: account)
        }
    }

    /// `AccountLinks` for one account: its master and the accounts linked under it.
    static func links(of account: String, in store: any ServerStore) -> Envelope {
        Envelope(.accountLinks(.init(master: (try? store.master(of: account)) ?? nil,
                                     linked: (try? store.linkedAccounts(of: account)) ?? [])))
    }
}

// MARK: - One connection, many accounts (Protocol/links.md)

extension ServerSession {
    /// A request the device makes for a linked account: checked by `ServerRules.actFor`, then
    /// answered as the same request from the device acting as a device of that account.
    mutating func forAccount(_ wrapped: ForAccount, from device: DeviceRecord) async -> Message? {
        let inner: Envelope
        do { inner = try Envelope.decode(wrapped.message[...]) } catch {
            return Self.error(.malformed, "the message for \(wrapped.account) does not decode: \(error)")
        }
        guard ServerRules.mayCarry(inner.message.type) else {
            return Self.error(.malformed, "\(inner.message.type) cannot be sent for a linked account")
        }
        let master = (try? server.store.master(of: wrapped.account)) ?? nil
        let roster = server.rosters.current(account: wrapped.account)
        var firstRoster = false
        if roster == nil, case .rosterPublish = inner.message {
            firstRoster = ((try? server.store.firstDeviceID(account: wrapped.account)) ?? nil) == nil
        }
        if case .refused(let code, let reason) = ServerRules.actFor(wrapped.account, by: .init(device), master: master, roster: roster,
                                                                      firstRoster: firstRoster) {
            logger.notice("\(device.id) may not act for \(wrapped.account): \(reason)")
            return Self.error(code, reason)
        }
        var acting = device
        acting.account = wrapped.account
        return await answer(inner.message, as: acting)
    }

    /// The account a device acts for when it is not the one in its id: what `RelayDeliver`
    /// says as `fromAccount`.
    static func actingAccount(_ device: DeviceRecord) -> String? {
        ReadState.account(ofDevice: device.id) == device.account ? nil : device.account
    }
}
