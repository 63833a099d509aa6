import KithNet
import KithStore
import KithWire

/// What the account's `ServerConnection` tells it: the session is up (send the outbox, report
/// endpoints), a message came, the connection ended, the server ended the session.
extension AccountContext: ServerConnectionOwner {
    func sessionToResume() -> AgentStore.Session? { try? store.session() }

    func connected(_ connection: ClientConnection, session: AgentStore.Session) async {
        self.connection = connection
        connectedSession = session
        lastError = nil
        Task { await self.flushOutbox() }
        Task { await self.reportEndpoints(connection, invite: session.invite) }
    }

    func received(_ message: Message, session: AgentStore.Session, connection: ClientConnection) async {
        await handleServerMessage(message, session: session, connection: connection)
    }

    func disconnected(problem: String?) async {
        connection = nil
        connectedSession = nil
        if let problem { lastError = problem }
        try? store.markAllOffline()
    }

    func sessionEnded(_ reason: String) async {
        try? store.clearSession()
        lastError = reason
    }
}
