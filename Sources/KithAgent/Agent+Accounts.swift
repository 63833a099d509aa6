import Foundation
import KithAPI
import KithCore
import KithStore

/// The local API's methods that are the agent's, not one account's: its status, signing up, and
/// logging in, which adds an account (or logs an account in again).
extension Agent {
    /// The agent, the account `name` names (or the default one) in the top-level fields, and
    /// every account in `accounts`.
    func status(of name: String?) async throws -> StatusResult {
        var summaries: [AccountSummary] = []
        for account in accounts { summaries.append(await account.context.summary()) }
        let chosen = name == nil ? try? context(for: nil) : try context(for: name)
        var result = await chosen?.status() ?? StatusResult(
            profile: paths.profile, agentVersion: KithVersion.software, pid: ProcessInfo.processInfo.processIdentifier,
            fingerprint: identity.publicKey.fingerprint.description, server: try? store.invite(), connected: false,
            pendingNotes: 0, heldNotices: 0, sentDirect: 0, sentThroughServer: 0)
        // The default account first, as `context(for: nil)` picks it.
        let preferred = (try? store.defaultOwner()) ?? ""
        result.accounts = summaries.filter { $0.owner == preferred } + summaries.filter { $0.owner != preferred }
        return result
    }

    /// Every account, the default one first.
    func accountList() async -> AccountsResult {
        var entries: [AccountEntry] = []
        for account in accounts { entries.append(await account.context.accountEntry()) }
        let preferred = (try? store.defaultOwner()) ?? ""
        return AccountsResult(accounts: entries.filter { $0.owner == preferred } + entries.filter { $0.owner != preferred })
    }

    func signup(_ params: SignupRequest) async throws -> EmptyResult {
        let connection = try await ServerDialer(keys: identity.noiseKeyPair, group: group).connect(invite: params.invite)
        defer { Task { await connection.close() } }
        let answer = try await connection.request(.signup(.init(account: params.account, password: params.password))).message
        guard answer == .ack(.init()) else {
            throw AgentError(.serverRefused, "the server refused the sign-up: \(AccountContext.describe(answer))")
        }
        logger.info("signed up \(params.account)")
        return EmptyResult()
    }

    /// Logs in the account's context, made for it if this device does not hold the account yet:
    /// a second account is added beside the first, never in its place. The account becomes the
    /// default one. A context made for a login that fails is stopped and forgotten.
    func login(_ params: LoginRequest) async throws -> LoginResultAPI {
        let owner = AgentStore.owner(account: params.account, invite: params.invite)
        if let existing = context(owner: owner) { return try await existing.login(params) }
        let context = try await add(owner: owner)
        do {
            return try await context.login(params)
        } catch {
            await context.stop()
            accounts.removeAll { $0.owner == owner }
            throw error
        }
    }
}
