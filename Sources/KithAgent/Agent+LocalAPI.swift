import KithAPI
import Logging

/// The local API as a table from method to handler (Protocol/local-api.md): each handler decodes
/// its own request type, runs the method on the account the line names (or on the agent, for the
/// few that are not an account's), and encodes the answer. A new method is a request type in
/// KithAPI, a method on `AccountContext`, and one row here.
extension Agent {
    typealias Handler = @Sendable (Agent, [UInt8]) async -> [UInt8]

    static let handlers: [AgentMethod: Handler] = {
        var table: [AgentMethod: Handler] = [:]
        /// A method of the agent itself (its status, accounts coming), given the account the line names.
        func onAgent<R: APIRequest>(_: R.Type, _ body: @escaping @Sendable (Agent, R, String?) async throws -> R.Result) {
            table[R.method] = { agent, line in
                await respond(R.self, to: line, agent: agent) { try await body(agent, $0, $1) }
            }
        }
        /// A method of one account: the one the line names (`account`), or the default one.
        func on<R: APIRequest>(_: R.Type, _ body: @escaping @Sendable (AccountContext, R) async throws -> R.Result) {
            table[R.method] = { agent, line in
                await respond(R.self, to: line, agent: agent) { request, account in
                    try await body(try await agent.context(for: account), request)
                }
            }
        }
        onAgent(StatusRequest.self) { agent, _, account in try await agent.status(of: account) }
        onAgent(SignupRequest.self) { agent, request, _ in try await agent.signup(request) }
        onAgent(LoginRequest.self) { agent, request, _ in try await agent.login(request) }
        onAgent(AccountsRequest.self) { agent, _, _ in await agent.accountList() }
        onAgent(NetworksRequest.self) { agent, _, _ in await agent.networkList() }
        onAgent(NetworkAddRequest.self) { agent, request, _ in try await agent.networkAdd(request) }
        onAgent(NetworkRemoveRequest.self) { agent, request, _ in try await agent.networkRemove(request) }
        onAgent(NetworksLoginRequest.self) { agent, _, _ in try await agent.networksLogin() }
        onAgent(PeopleRequest.self) { agent, request, _ in try await agent.people(request) }
        onAgent(PeopleBindRequest.self) { agent, request, _ in try await agent.peopleBind(request) }
        onAgent(PeopleUnbindRequest.self) { agent, request, _ in try await agent.peopleUnbind(request) }
        onAgent(PeopleRenameRequest.self) { agent, request, _ in try await agent.peopleRename(request) }
        onAgent(PeopleAnswerRequest.self) { agent, request, _ in try await agent.peopleAnswer(request) }
        onAgent(PeopleKithOnlyRequest.self) { agent, request, _ in try await agent.peopleKithOnly(request) }
        onAgent(SubscriptionAnswerRequest.self) { agent, request, _ in try await agent.subscriptionAnswer(request) }
        onAgent(XMPPInboxRequest.self) { agent, request, _ in try await agent.xmppInbox(request) }
        onAgent(ConversationRequest.self) { agent, request, _ in try await agent.conversation(request) }
        onAgent(SendRequest.self) { agent, request, account in try await agent.send(request, account: account) }
        onAgent(WatchPageRequest.self) { agent, request, account in try await agent.watchPage(request, account: account) }
        on(AccountLinkRequest.self) { account, request in try await account.link(request) }
        on(AccountUnlinkRequest.self) { account, request in try await account.unlink(request) }
        on(AccountSetMasterRequest.self) { account, request in try await account.setMaster(request) }
        on(LogoutRequest.self) { account, _ in try await account.logout() }
        on(DevicesRequest.self) { account, _ in try await account.devices() }
        on(InboxRequest.self) { account, request in try await account.inbox(request) }
        on(ReadRequest.self) { account, request in try await account.read(request) }
        on(ContactsRequest.self) { account, _ in try await account.contacts() }
        on(WatchRequest.self) { account, request in try await account.watch(request) }
        on(ContactAddRequest.self) { account, request in try await account.contactChange(request) }
        on(ContactAcceptRequest.self) { account, request in try await account.contactChange(request) }
        on(ContactRemoveRequest.self) { account, request in try await account.contactChange(request) }
        on(ContactVerifyRequest.self) { account, request in try await account.contactVerify(request) }
        on(ContactTrustRequest.self) { account, request in try await account.contactTrust(request) }
        on(DiscoverRequest.self) { account, _ in try await account.discover() }
        on(PushRequest.self) { account, request in try await account.push(request) }
        on(TransfersRequest.self) { account, _ in try await account.transferList() }
        on(TransferRequest.self) { account, request in try await account.transferAction(request) }
        on(AcceptRequest.self) { account, request in try await account.transferAction(request) }
        on(RejectRequest.self) { account, request in try await account.transferAction(request) }
        on(RosterRequest.self) { account, _ in try await account.rosterInfo() }
        on(ApproveDeviceRequest.self) { account, request in try await account.approve(request.to) }
        on(AutoApproveRequest.self) { account, request in try await account.autoApprove(request.duration ?? "off") }
        on(DenyRequest.self) { account, request in try await account.deny(request.to) }
        on(RevokeRequest.self) { account, request in try await account.revoke(request.to) }
        on(HandOverRequest.self) { account, request in try await account.handOver(to: request.to) }
        on(RecoverRequest.self) { account, request in try await account.recover(request.text) }
        on(PolicyShowRequest.self) { account, request in try await account.policyShow(request.to) }
        on(PolicySetRequest.self) { account, request in try await account.policySet(request.to, request.settings) }
        table[.events] = { _, _ in
            APICodec.encode(AgentResponse<EmptyResult>(
                error: AgentError(.invalidRequest, "events is a stream: send it as the first line of a connection")))
        }
        return table
    }()

    /// Decodes `line` as `R` (and the account it names), runs `body`, and encodes its result or
    /// error as one response line.
    private static func respond<R: APIRequest>(_: R.Type, to line: [UInt8], agent: Agent,
                                               _ body: (R, String?) async throws -> R.Result) async -> [UInt8] {
        do {
            let (request, account) = try APICodec.call(R.self, from: line)
            return APICodec.encode(AgentResponse(result: try await body(request, account)))
        } catch let problem as APICodec.RequestProblem {
            return APICodec.encode(AgentResponse<R.Result>(error: AgentError(.invalidRequest, problem.description)))
        } catch let error as AgentError {
            return APICodec.encode(AgentResponse<R.Result>(error: error))
        } catch {
            agent.logger.error("\(R.method.rawValue) failed: \(error)")
            return APICodec.encode(AgentResponse<R.Result>(error: AgentError(.internalError, "\(error)")))
        }
    }

    /// Answers one request line with one response line (newline included).
    public func handle(_ line: [UInt8]) async -> [UInt8] {
        let method: AgentMethod
        do { method = try APICodec.method(of: line) } catch {
            return APICodec.encode(AgentResponse<EmptyResult>(error: AgentError(.invalidRequest, error.description)))
        }
        guard let handler = Self.handlers[method] else {
            return APICodec.encode(AgentResponse<EmptyResult>(error: AgentError(.internalError, "no handler for \(method.rawValue)")))
        }
        return await handler(self, line)
    }
}
