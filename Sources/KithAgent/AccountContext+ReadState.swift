import KithAPI
import KithCore
import KithCrypto
import KithStore
import KithWire

/// Messages from contacts and read state that follows the person (spec §Read state): a message
/// viewed here is turned viewed on the account's other devices by a Viewed notice, and notices
/// from them are applied here. `ReadState` decides; the store carries each decision out in one
/// transaction, before the payload that caused it is acknowledged.
extension AccountContext {
    /// Commits a message from a contact's device, viewed already if a held notice or the
    /// contact's "viewed up to" mark covers it.
    func receive(_ chat: Chat, code: UInt64, from sender: String, account acting: String? = nil) throws {
        guard try store.message(code: code) == nil else { return }  // a redelivery
        let account = acting ?? String(ReadState.account(ofDevice: sender))
        let time = now()
        let held = try store.heldNotices()
        let mark = try store.viewedUpTo(account: account)
        let (consumed, viewed) = ReadState.arrival(
            of: HeldMessage(code: code, sender: sender, text: chat.text, viewed: false),
            held: held.map(Self.held), viewedUpTo: mark?.code, now: time)
        let viewing = consumed.first.map { AgentStore.Viewing(atMillis: $0.viewedAtMillis, by: $0.viewedBy) } ?? mark?.viewing
        let expired = ReadState.expired(held.map(Self.held), now: time).map(\.id)
        try store.storeMessage(.init(code: code, messageID: chat.id, sender: sender, senderAccount: account, text: chat.text,
                                     sentAtMillis: chat.sentAtMillis, receivedAtMillis: time),
                               viewing: viewed ? viewing : nil, consuming: consumed.map(\.id) + expired)
        logger.info("message \(code) from \(sender)\(viewed ? " (viewed on another device already)" : "")")
        var event = AgentEvent(event: .message, from: sender, contact: account, codes: [code],
                               unread: try store.unreadCounts()[account] ?? 0)
        event.notify = ownPermissions()?.messages != .silent
        publish(event)
        if viewed { forgetViewedTextIfPolicySays() }
    }

    /// Applies a viewed-notice from another device of this account. Items whose code is held
    /// here go first, so the clip fallback of the others never takes a message named exactly.
    func apply(_ notice: Viewed, from sibling: String) throws {
        let time = now()
        var codes: [UInt64] = [], hold: [AgentStore.StoredNotice] = []
        let exact = try notice.items.map { try store.message(code: $0.code).map(Self.held) }
        let named = Set(exact.compactMap { $0?.code })
        for (item, exact) in zip(notice.items, exact).sorted(by: { ($0.1 == nil ? 1 : 0) < ($1.1 == nil ? 1 : 0) }) {
            let sameAccount = exact == nil && item.clip != nil
                ? try store.messages(account: String(ReadState.account(ofDevice: item.sender)), unviewedOnly: true, limit: 1000)
                    .map(Self.held).filter { !codes.contains($0.code) && !named.contains($0.code) }
                : []
            switch ReadState.apply(item, exact: exact, sameAccount: sameAccount) {
            case .markViewed(let code): codes.append(code)
            case .alreadyViewed: break
            case .hold:
                hold.append(.init(code: item.code, sentAtMillis: item.sentAtMillis, sender: item.sender, clipMode: item.clipMode,
                                  clipLimit: item.clipLimit, clip: item.clip, viewedAtMillis: notice.viewedAtMillis,
                                  viewedBy: sibling, expiresAtMillis: time + settings.noticeHoldMillis))
            }
        }
        let expired = ReadState.expired(try store.heldNotices().map(Self.held), now: time).map(\.id)
        let outcome = try store.applyViewed(codes: codes, upTo: notice.upTo.map { ($0.contact, $0.code) },
                                            viewing: .init(atMillis: notice.viewedAtMillis, by: sibling),
                                            hold: hold, deleteNotices: expired)
        if !hold.isEmpty { logger.info("holding \(hold.count) viewed-notice item(s) from \(sibling) until their messages arrive") }
        publishViewed(outcome, by: sibling)
    }

    /// The local `read`: marks one message, or everything from a contact, viewed here, and queues
    /// a notice for every other device of the account, in one transaction.
    func read(_ params: ReadRequest) async throws -> ReadResult {
        let context = try store.readContext(code: params.code)
        guard let session = context.session else {
            throw AgentError(.notLoggedIn, "this device is not logged in; run `kith login`")
        }
        let viewing = AgentStore.Viewing(atMillis: now(), by: session.deviceID)
        let notice: Viewed, codes: [UInt64], upTo: [(account: String, code: UInt64)], shown: [MessageEntry]
        if let code = params.code {
            guard let message = context.message else {
                throw AgentError(.unknownMessage, "there is no message \(code) on this device; see `kith inbox`")
            }
            shown = [Self.entry(message)]
            guard message.viewedAtMillis == nil else { return ReadResult(messages: shown, newlyViewed: 0) }
            let item = ReadState.item(for: Self.held(message), sentAtMillis: message.sentAtMillis, clip: settings.clip)
            (notice, codes, upTo) = (Viewed(viewedAtMillis: viewing.atMillis, items: [item]), [code], [])
        } else if let contact = params.contact, params.all == true {
            guard let newest = try store.messages(account: contact, limit: 1).last else {
                return ReadResult(messages: [], newlyViewed: 0)
            }
            shown = []
            (codes, upTo) = ([], [(contact, newest.code)])
            notice = Viewed(viewedAtMillis: viewing.atMillis, upTo: [ViewedUpTo(contact: contact, code: newest.code)])
        } else {
            throw AgentError(.invalidRequest, "read needs a message code, or a contact with all: true")
        }
        let body = try Envelope(.viewed(notice)).encode()
        let approved = Set(approvedSiblings().map(\.id))
        let siblings = context.devices.filter { $0 != session.deviceID && approved.contains($0) }
        let outcome = try store.applyViewed(codes: codes, upTo: upTo, viewing: viewing, enqueue: siblings.map {
            .init(kind: .viewed, receiver: $0, body: body, sentAtMillis: viewing.atMillis)
        })
        publishViewed(outcome, by: session.deviceID)
        Task { await self.flushOutbox() }
        return ReadResult(messages: shown, newlyViewed: outcome.changed.values.map(\.count).reduce(0, +))
    }

    /// One `viewed` event per contact account whose messages changed, with that account's codes.
    private func publishViewed(_ outcome: AgentStore.ViewedOutcome, by device: String) {
        if !outcome.changed.isEmpty { forgetViewedTextIfPolicySays() }
        for (account, codes) in outcome.changed.sorted(by: { $0.key < $1.key }) {
            publish(AgentEvent(event: .viewed, contact: account, codes: codes, unread: outcome.unread[account] ?? 0, by: device))
        }
    }

    static func held(_ m: AgentStore.StoredMessage) -> HeldMessage {
        HeldMessage(code: m.code, sender: m.sender, text: m.text, viewed: m.viewedAtMillis != nil)
    }

    static func held(_ n: AgentStore.StoredNotice) -> HeldNotice {
        HeldNotice(id: n.id, item: ViewedItem(code: n.code, sentAtMillis: n.sentAtMillis, sender: n.sender, clipMode: n.clipMode,
                                              clipLimit: n.clipLimit, clip: n.clip),
                   viewedAtMillis: n.viewedAtMillis, viewedBy: n.viewedBy, expiresAtMillis: n.expiresAtMillis)
    }

    static func entry(_ m: AgentStore.StoredMessage) -> MessageEntry {
        MessageEntry(code: m.code, from: m.sender, contact: m.senderAccount, text: m.text, sentAtMillis: m.sentAtMillis,
                     receivedAtMillis: m.receivedAtMillis, viewed: m.viewedAtMillis != nil, viewedAtMillis: m.viewedAtMillis,
                     viewedBy: m.viewedBy)
    }
}
