import KithAPI
import Logging

/// The local API as a table from method to handler (Protocol/local-api.md): each handler decodes
/// its own request type, runs the agent's method, and encodes the answer. A new method is a
/// request type in KithAPI, a method on the agent, and one row here.
extension Agent {
    typealias Handler = @Sendable (Agent, [UInt8]) async -> [UInt8]

    static let handlers: [AgentMethod: Handler] = {
        var table: [AgentMethod: Handler] = [:]
        func on<R: APIRequest>(_: R.Type, _ body: @escaping @Sendable (Agent, R) async throws -> R.Result) {
            table[R.method] = { agent, line in
                do {
                    let request = try APICodec.request(R.self, from: line)
                    return APICodec.encode(AgentResponse(result: try await body(agent, request)))
                } catch let problem as APICodec.RequestProblem {
                    return APICodec.encode(AgentResponse<R.Result>(error: AgentError(.invalidRequest, problem.description)))
                } catch let error as AgentError {
                    return APICodec.encode(AgentResponse<R.Result>(error: error))
                } catch {
                    agent.logger.error("\(R.method.rawValue) failed: \(error)")
                    return APICodec.encode(AgentResponse<R.Result>(error: AgentError(.internalError, "\(error)")))
                }
            }
        }
        on(StatusRequest.self) { agent, _ in await agent.status() }
        on(SignupRequest.self) { agent, request in try await agent.signup(request) }
        on(LoginRequest.self) { agent, request in try await agent.login(request) }
        on(LogoutRequest.self) { agent, _ in try await agent.logout() }
        on(DevicesRequest.self) { agent, _ in try await agent.devices() }
        on(SendRequest.self) { agent, request in try await agent.send(request) }
        on(InboxRequest.self) { agent, request in try await agent.inbox(request) }
        on(ReadRequest.self) { agent, request in try await agent.read(request) }
        on(ContactsRequest.self) { agent, _ in try await agent.contacts() }
        on(ContactAddRequest.self) { agent, request in try await agent.contactChange(request) }
        on(ContactAcceptRequest.self) { agent, request in try await agent.contactChange(request) }
        on(ContactRemoveRequest.self) { agent, request in try await agent.contactChange(request) }
        on(ContactVerifyRequest.self) { agent, request in try await agent.contactVerify(request) }
        on(ContactTrustRequest.self) { agent, request in try await agent.contactTrust(request) }
        on(DiscoverRequest.self) { agent, _ in try await agent.discover() }
        on(PushRequest.self) { agent, request in try await agent.push(request) }
        on(TransfersRequest.self) { agent, _ in try await agent.transferList() }
        on(TransferRequest.self) { agent, request in try await agent.transferAction(request) }
        on(AcceptRequest.self) { agent, request in try await agent.transferAction(request) }
        on(RejectRequest.self) { agent, request in try await agent.transferAction(request) }
        on(RosterRequest.self) { agent, _ in try await agent.rosterInfo() }
        on(ApproveDeviceRequest.self) { agent, request in try await agent.approve(request.to) }
        on(AutoApproveRequest.self) { agent, request in try await agent.autoApprove(request.duration ?? "off") }
        on(DenyRequest.self) { agent, request in try await agent.deny(request.to) }
        on(UnlinkRequest.self) { agent, request in try await agent.unlink(request.to) }
        on(HandOverRequest.self) { agent, request in try await agent.handOver(to: request.to) }
        on(RecoverRequest.self) { agent, request in try await agent.recover(request.text) }
        on(PolicyShowRequest.self) { agent, request in try await agent.policyShow(request.to) }
        on(PolicySetRequest.self) { agent, request in try await agent.policySet(request.to, request.settings) }
        table[.events] = { _, _ in
            APICodec.encode(AgentResponse<EmptyResult>(
                error: AgentError(.invalidRequest, "events is a stream: send it as the first line of a connection")))
        }
        return table
    }()

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
