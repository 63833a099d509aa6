import KithCore
import KithNet
import KithStore
import KithWire

/// What the account's `ServerConnection` tells it: the session is up (send the outbox, report
/// endpoints), a message came, the connection ended, the server ended the session.
extension AccountContext: ServerConnectionOwner {
    func sessionToResume() -> AgentStore.Session? { try? store.session() }

    func connected(_ connection: ClientConnection, session: AgentStore.Session, address: HostPort) async {
        attach(connection, session: session)
        connectedAddress = address
        Task { await self.reportEndpoints(connection, server: address) }
        Task { await self.reportAllUnread() }
        await pageHost?(.connected(connection, session))
    }

    func serverNamed(instances: [String]) async {
        do { try store.saveInstances(instances) } catch { logger.warning("cannot keep the server's instances: \(error)") }
    }

    func received(_ message: Message, session: AgentStore.Session, connection: ClientConnection) async {
        await handleServerMessage(message, session: session, connection: connection)
    }

    func disconnected(problem: String?) async {
        detach(problem: problem)
        await pageHost?(.disconnected)
    }

    /// The session is up on `channel`: the outbox goes out. A page is attached by the agent
    /// when its master's connection is up.
    func attach(_ channel: any ServerChannel, session: AgentStore.Session) {
        connection = channel
        connectedSession = session
        lastError = nil
        Task { await self.flushOutbox() }
    }

    func detach(problem: String?) {
        connection = nil
        connectedSession = nil
        connectedAddress = nil
        if let problem { lastError = problem }
        markOffline()
    }

    func sessionEnded(_ reason: String) async {
        try? store.clearSession()
        lastError = reason
    }
}
