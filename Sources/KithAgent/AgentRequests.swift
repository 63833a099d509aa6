import Foundation
import KithCore
import KithCrypto
import KithStore
import KithWire

/// The local API's methods (Protocol/local-api.md).
extension Agent {
    func status() -> StatusResult {
        let session = try? store.session()
        return StatusResult(
            profile: paths.profile, agentVersion: KithVersion.software, pid: ProcessInfo.processInfo.processIdentifier,
            fingerprint: identity.publicKey.fingerprint.description, server: session?.invite ?? (try? store.invite()) ?? nil,
            connected: connection != nil && connectedSession != nil, account: session?.account, deviceID: session?.deviceID,
            sessionExpiresAtMillis: session?.expiresAtMillis, pendingNotes: (try? store.pendingOutgoing(limit: 10_000).count) ?? 0,
            lastError: lastError)
    }

    func signup(_ params: AgentRequest.Params) async throws -> EmptyResult {
        guard let invite = params.invite, let account = params.account, let password = params.password else {
            throw AgentError(.invalidRequest, "signup needs invite, account and password")
        }
        let connection = try await connect(invite: invite)
        defer { Task { await connection.close() } }
        let answer = try await connection.request(.signup(.init(account: account, password: password))).message
        guard answer == .ack(.init()) else {
            throw AgentError(.serverRefused, "the server refused the sign-up: \(Self.describe(answer))")
        }
        logger.info("signed up \(account)")
        return EmptyResult()
    }

    func login(_ params: AgentRequest.Params) async throws -> LoginResultAPI {
        guard let invite = params.invite, let account = params.account, let password = params.password else {
            throw AgentError(.invalidRequest, "login needs invite, account and password")
        }
        let type = params.type.flatMap(TerminalType.init(name:)) ?? .pc
        let name = params.name ?? ProcessInfo.processInfo.hostName
        let connection = try await connect(invite: invite)
        defer { Task { await connection.close() } }
        let answer = try await connection.request(.login(.init(
            account: account, password: password, terminalType: type.rawValue, deviceName: Self.truncated(name, bytes: 64),
            clientVersion: KithVersion.userAgent, deviceKey: identity.publicKey.rawValue, addresses: []))).message
        guard case .loginResult(let result) = answer else {
            throw AgentError(.serverRefused, "the server refused the login: \(Self.describe(answer))")
        }
        // Commit the session before reporting success; the link then resumes with the token.
        try store.saveSession(.init(invite: invite, account: result.account, deviceID: result.deviceID,
                                    token: result.token, expiresAtMillis: result.expiresAtMillis))
        await self.connection?.close()
        lastError = nil
        signalWakeForLogin()
        logger.info("logged in as \(result.deviceID)")
        return LoginResultAPI(account: result.account, deviceID: result.deviceID)
    }

    /// The longest prefix of whole characters that fits in `bytes` UTF-8 bytes.
    static func truncated(_ text: String, bytes: Int) -> String {
        var out = ""
        for character in text {
            guard out.utf8.count + character.utf8.count <= bytes else { break }
            out.append(character)
        }
        return out
    }

    func logout() async throws -> EmptyResult {
        guard let session = try store.session() else { throw AgentError(.notLoggedIn, "this device is not logged in") }
        if let connection, !connection.isClosed {
            _ = try? await connection.request(.logout(.init()), timeout: .seconds(5))
            await connection.close()
        }
        try store.clearSession()
        logger.info("logged out of \(session.deviceID)")
        return EmptyResult()
    }

    func devices() throws -> DevicesResult {
        guard let session = try store.session() else {
            throw AgentError(.notLoggedIn, "this device is not logged in; run `kith login`")
        }
        let devices = try store.devices().map { device in
            DeviceEntry(id: device.id, name: device.name,
                        type: TerminalType(rawValue: device.terminalType)?.description ?? "type \(device.terminalType)",
                        online: device.online, lastSeenMillis: device.lastSeenMillis,
                        fingerprint: SigningPublicKey(rawValue: device.key)?.fingerprint.description ?? "?",
                        path: device.id == session.deviceID ? "self" : "relay", clientVersion: device.clientVersion,
                        isThisDevice: device.id == session.deviceID)
        }
        return DevicesResult(account: session.account, devices: devices)
    }

    func send(_ params: AgentRequest.Params) async throws -> SendResult {
        guard let session = try store.session() else {
            throw AgentError(.notLoggedIn, "this device is not logged in; run `kith login`")
        }
        guard let to = params.to, let text = params.text else { throw AgentError(.invalidRequest, "send needs to and text") }
        guard text.utf8.count <= 16384 else { throw AgentError(.invalidRequest, "a note is at most 16384 bytes") }
        guard try store.devices().contains(where: { $0.id == to }) else {
            throw AgentError(.unknownDevice, "\(to) is not a device of \(session.account); see `kith devices`")
        }
        guard to != session.deviceID else { throw AgentError(.invalidRequest, "that is this device") }
        let noteID = secureRandomBytes(16)
        let seq = try store.enqueueOutgoing(noteID: noteID, to: to, text: text, sentAtMillis: now())
        await flushOutbox()
        let relayed = !((try? store.pendingOutgoing(limit: 10_000)) ?? []).contains { $0.seq == seq }
        return SendResult(noteID: noteID.hexString, to: to, relayed: relayed)
    }

    func inbox(_ params: AgentRequest.Params) throws -> InboxResult {
        guard let session = try store.session() else {
            throw AgentError(.notLoggedIn, "this device is not logged in; run `kith login`")
        }
        let notes = try store.incoming(limit: params.limit ?? 100).map {
            NoteEntry(noteID: $0.noteID.hexString, from: $0.peer, to: session.deviceID, text: $0.text,
                      sentAtMillis: $0.sentAtMillis, receivedAtMillis: $0.receivedAtMillis)
        }
        return InboxResult(notes: notes)
    }
}
