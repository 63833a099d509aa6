import KithAPI

extension AccountContext {
    /// Hands `event`, marked with this account, to the agent's subscribers.
    func publish(_ event: AgentEvent) {
        var event = event
        event.account = event.account ?? rosterBook?.account ?? connectedSession?.account
        emit(event)
        reportUnread(after: event)
    }
}
