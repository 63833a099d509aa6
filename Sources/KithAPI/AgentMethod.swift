/// The local API between the CLI (or any program of the same user) and the agent: one JSON
/// object per line over the agent's Unix socket (Protocol/local-api.md).
public enum AgentMethod: String, Codable, Sendable, CaseIterable {
    case status, signup, login, logout, devices, send, inbox
    case contacts, contactAdd, contactAccept, contactRemove, read, discover
    /// A contact's safety code and trust (Protocol/local-api.md §Contacts' keys).
    case contactVerify, contactTrust
    /// File transfers (Protocol/local-api.md §Transfers).
    case push, transfers, transfer, accept, reject
    /// The roster and policies (Protocol/local-api.md §Devices and approval).
    case roster, approve, autoApprove, deny, revoke, handOver, recover, policyShow, policySet
    /// Linked accounts (Protocol/local-api.md §Linked accounts).
    case accounts, accountLink, accountUnlink, accountSetMaster
    /// The profile's networks: its Kith accounts and its XMPP accounts (Protocol/local-api.md §Networks).
    case networks, networkAdd, networkRemove, networksLogin
    /// The merged contacts over all networks (Protocol/local-api.md §People).
    case people, peopleBind, peopleUnbind, peopleRename, peopleAnswer, peopleKithOnly, conversation, subscriptionAnswer, xmppInbox
    /// The state of a few watched contacts (Protocol/local-api.md §Watch).
    case watch
    /// The watcher's local web page (Protocol/local-api.md §The watch page).
    case watchPage
    /// Turns the connection into a stream of `AgentEvent` lines (Protocol/local-api.md §Events).
    case events
}
