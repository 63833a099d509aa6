import KithAPI
@testable import KithAgent
import Testing

/// Which of the agent's events make the watch page read its contacts again: only those of its
/// account that may change a watched contact's card.
@Suite struct WatchPageEventsTests {
    static func concerns(_ event: AgentEvent, account: String? = "alice") -> Bool {
        var event = event
        event.account = account
        return WatchPageServer.concerns(event, account: "alice", watched: ["bob"])
    }

    @Test func aWatchedContactsChangesOnly() {
        #expect(Self.concerns(AgentEvent(event: .message, contact: "bob", unread: 1)))
        #expect(Self.concerns(AgentEvent(event: .viewed, contact: "bob")))
        #expect(Self.concerns(AgentEvent(event: .viewed)), "viewed on another device, contact not named")
        #expect(Self.concerns(AgentEvent(event: .presence, contact: "bob", state: "offline")))
        #expect(Self.concerns(AgentEvent(event: .contacts)))
        #expect(!Self.concerns(AgentEvent(event: .message, contact: "dave", unread: 1)), "an unwatched contact")
        #expect(!Self.concerns(AgentEvent(event: .message, contact: "bob", unread: 1), account: "alice2"), "another account")
        #expect(!Self.concerns(AgentEvent(event: .transfer, transfer: "3f", state: "active")))
        #expect(!Self.concerns(AgentEvent(event: .note, from: "alice-PC-2")))
    }
}
