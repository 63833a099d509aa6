import KithAPI
import KithWire

/// Unread counts for watchers without an agent (spec §Watch sessions, Unread counts): when a
/// contact's count changes here, and after each login, the server is told how many messages from
/// that contact, up to the newest code held, are not viewed. Best effort: a report that fails is
/// superseded by the next one, and every login sends them all again.
extension AccountContext {
    /// Reports wait this long, so a burst of reads or arrivals is one report per contact, sent
    /// after the burst instead of on the path of each read.
    static let unreadReportDelay = Duration.milliseconds(100)

    /// After a change that `event` announces: a message arrived or messages turned viewed.
    func reportUnread(after event: AgentEvent) {
        guard event.event == .message || event.event == .viewed, let contact = event.contact else { return }
        unreadToReport.insert(contact)
        guard unreadReporter == nil else { return }
        unreadReporter = Task { [weak self] in
            try? await Task.sleep(for: Self.unreadReportDelay)
            await self?.reportWaitingUnread()
        }
    }

    private func reportWaitingUnread() async {
        let contacts = unreadToReport.sorted()
        (unreadToReport, unreadReporter) = ([], nil)
        await reportUnread(of: contacts)
    }

    /// Reports every contact this device holds messages from (after a login).
    func reportAllUnread() async {
        let contacts = Set(((try? store.messages(limit: 10_000)) ?? []).map(\.senderAccount))
        await reportUnread(of: contacts.sorted())
    }

    private func reportUnread(of contacts: [String]) async {
        guard let connection else { return }
        let unread = (try? store.unreadCounts()) ?? [:]
        for contact in contacts {
            guard let newest = try? store.messages(account: contact, limit: 1).last else { continue }
            let report = UnreadReport(contact: contact, upToCode: newest.code, unread: UInt32(clamping: unread[contact] ?? 0))
            guard let answer = try? await connection.request(.unreadReport(report)).message, answer == .ack(.init()) else { return }
        }
    }
}
