import Foundation
import KithAPI
import Testing
@testable import KithAgent

/// The local API's JSON lines (Protocol/local-api.md §Framing), from the client's side and the
/// agent's: a typed request encodes to the line earlier clients sent, lines earlier clients send
/// decode to the typed request, and a line of the wrong shape is a clear, typed refusal.
@Suite struct APICodecTests {
    static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    @Test func aTypedRequestIsTheLineEarlierClientsSent() throws {
        #expect(Self.text(try APICodec.encode(SendRequest(to: "alice-MP-1", text: "hello")))
                == #"{"method":"send","params":{"text":"hello","to":"alice-MP-1"}}"# + "\n")
        #expect(Self.text(try APICodec.encode(StatusRequest())) == #"{"method":"status","params":{}}"# + "\n")
        #expect(Self.text(try APICodec.encode(InboxRequest(contact: "bob"))) == #"{"method":"inbox","params":{"contact":"bob"}}"# + "\n")
    }

    @Test func linesOfEarlierClientsDecodeToTheirRequest() throws {
        let send = Array(#"{"method":"send","params":{"to":"bob","text":"hi","unknown":1}}"#.utf8)
        #expect(try APICodec.method(of: send) == .send)
        let request = try APICodec.request(SendRequest.self, from: send)
        #expect(request.to == "bob" && request.text == "hi", "unknown parameters are ignored")
        // No params at all, for a method that needs none.
        #expect(try APICodec.method(of: Array(#"{"method":"devices"}"#.utf8)) == .devices)
        _ = try APICodec.request(DevicesRequest.self, from: Array(#"{"method":"devices"}"#.utf8))
        let read = try APICodec.request(ReadRequest.self, from: Array(#"{"method":"read","params":{"code":42}}"#.utf8))
        #expect(read.code == 42 && read.contact == nil)
    }

    @Test func aLineOfTheWrongShapeIsATypedRefusal() {
        #expect(throws: APICodec.RequestProblem.unknownMethod("fly")) { try APICodec.method(of: Array(#"{"method":"fly"}"#.utf8)) }
        #expect(throws: APICodec.RequestProblem.self) { try APICodec.method(of: Array("not json".utf8)) }
        #expect(throws: APICodec.RequestProblem.badParameters(method: .send, "`text` is missing")) {
            try APICodec.request(SendRequest.self, from: Array(#"{"method":"send","params":{"to":"bob"}}"#.utf8))
        }
        #expect(throws: APICodec.RequestProblem.badParameters(method: .read, "`code` has the wrong type")) {
            try APICodec.request(ReadRequest.self, from: Array(#"{"method":"read","params":{"code":"forty-two"}}"#.utf8))
        }
        #expect(throws: APICodec.RequestProblem.badParameters(method: .send, "`to` is missing")) {
            try APICodec.request(SendRequest.self, from: Array(#"{"method":"send"}"#.utf8))
        }
    }

    @Test func responsesAndEventsRoundTrip() throws {
        let ok = APICodec.encode(AgentResponse(result: SendResult(noteID: "ab", to: "bob", relayed: true, devices: ["bob-PC-1"], code: 7)))
        #expect(ok.last == 0x0A)
        #expect(try APICodec.response(SendResult.self, from: ok).result?.code == 7)
        let failed = APICodec.encode(AgentResponse<SendResult>(error: AgentError(.notPermitted, "bob's keys changed")))
        #expect(Self.text(failed) == #"{"error":{"code":"notPermitted","message":"bob's keys changed"},"ok":false}"# + "\n")
        var event = AgentEvent(event: .presence, from: "bob-MP-1", contact: "bob", state: "online")
        event.account = "alice"
        #expect(try APICodec.event(from: APICodec.encode(event)) == event)
        #expect(Self.text(APICodec.encode(event)).contains(#""account":"alice""#))
    }

    @Test func everyMethodHasOneRequestType() {
        let types: [any APIRequest.Type] = [
            StatusRequest.self, SignupRequest.self, LoginRequest.self, LogoutRequest.self, DevicesRequest.self, SendRequest.self,
            InboxRequest.self, ReadRequest.self, ContactsRequest.self, ContactAddRequest.self, ContactAcceptRequest.self,
            ContactRemoveRequest.self, ContactVerifyRequest.self, ContactTrustRequest.self, DiscoverRequest.self, PushRequest.self,
            TransfersRequest.self, TransferRequest.self, AcceptRequest.self, RejectRequest.self, RosterRequest.self,
            ApproveDeviceRequest.self, AutoApproveRequest.self, DenyRequest.self, RevokeRequest.self, HandOverRequest.self,
            RecoverRequest.self, PolicyShowRequest.self, PolicySetRequest.self, EventsRequest.self, AccountsRequest.self,
            AccountLinkRequest.self, AccountUnlinkRequest.self, AccountSetMasterRequest.self, WatchRequest.self, WatchPageRequest.self,
            NetworksRequest.self, NetworkAddRequest.self, NetworkRemoveRequest.self, NetworksLoginRequest.self, PeopleRequest.self,
            PeopleBindRequest.self,
            PeopleUnbindRequest.self, PeopleRenameRequest.self, PeopleAnswerRequest.self, PeopleKithOnlyRequest.self,
            ConversationRequest.self, SubscriptionAnswerRequest.self, XMPPInboxRequest.self,
        ]
        #expect(Set(types.map { $0.method }) == Set(AgentMethod.allCases))
        #expect(types.count == AgentMethod.allCases.count)
    }

    /// `unlink` is what earlier clients call `revoke`; the line is the same otherwise.
    @Test func anEarlierMethodNameStillNamesItsMethod() throws {
        let line = Array(#"{"method":"unlink","params":{"to":"alice-MP-1"}}"#.utf8)
        #expect(try APICodec.method(of: line) == .revoke)
        #expect(try APICodec.request(RevokeRequest.self, from: line).to == "alice-MP-1")
    }

    /// The account a request is for rides beside `method`; a line without it is for the default account.
    @Test func aRequestMayNameItsAccount() throws {
        let named = try APICodec.encode(InboxRequest(), account: "carol")
        #expect(Self.text(named).contains(#""account":"carol""#))
        #expect(try APICodec.call(InboxRequest.self, from: named).account == "carol")
        #expect(try APICodec.call(InboxRequest.self, from: try APICodec.encode(InboxRequest())).account == nil)
        #expect(try APICodec.method(of: named) == .inbox)
    }

    @Test func theAgentHasAHandlerForEveryMethod() {
        #expect(Set(Agent.handlers.keys) == Set(AgentMethod.allCases))
    }
}
