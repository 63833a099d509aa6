import Foundation
import KithAPI
import KithCore
import KithCrypto
import KithNet
import KithStore
import KithWire
import NIOPosix

/// The watcher's own server session, when no agent of the account runs on the device (spec
/// §Watch sessions): it signs in with the account's password (or resumes with its token, kept in
/// the watcher's database), subscribes to the watched contacts only, and turns what the server
/// sends into events for the board. When the server says the token is over, it signs in again;
/// when the connection drops, it connects again with backoff. It is no device: it never
/// acknowledges or takes a queued item.
final class WatchServerSource: @unchecked Sendable {
    let invite: Invite
    let account: String
    let password: String
    let contacts: [String]
    let store: WatcherStore
    let inbox: WatchInbox
    private let lock = NSLock()
    private var refreshAsked = false

    init(invite: Invite, account: String, password: String, contacts: [String], store: WatcherStore, inbox: WatchInbox) {
        (self.invite, self.account, self.password, self.contacts) = (invite, account, password, contacts)
        (self.store, self.inbox) = (store, inbox)
    }

    func start() { Task { await self.run() } }

    /// Asks for the state now (a poll, or the `r` key): the subscription is sent again.
    func refresh() { lock.withLock { refreshAsked = true } }

    private func run() async {
        var delay: UInt64 = 1
        while true {
            do {
                let connection = try await Self.connect(invite)
                defer { Task { await connection.close() } }
                var token = try await signIn(connection)
                try await subscribe(connection, token: &token)
                delay = 1
                let pushes = Task {
                    for await envelope in connection.unsolicited {
                        switch envelope.message {
                        case .watchState(let state): self.post(state)
                        // The token is over: the next subscription signs in again.
                        case .errorMessage(let error) where error.code == ErrorCode.sessionExpired.rawValue: self.refresh()
                        default: continue
                        }
                    }
                }
                defer { pushes.cancel() }
                while !connection.isClosed {
                    if lock.withLock({ defer { refreshAsked = false }; return refreshAsked }) {
                        try await subscribe(connection, token: &token)
                    }
                    try await Task.sleep(for: .milliseconds(100))
                }
                throw WatchFailure("the server closed the connection")
            } catch {
                inbox.post(.fetchFailed("cannot watch through \(invite.host):\(invite.port): \(error)", nowMillis: WatchView.now()))
                try? await Task.sleep(for: .seconds(delay))
                delay = min(delay * 2, 30)
            }
        }
    }

    /// Resumes with the kept token, or signs in with the password; the token in use.
    private func signIn(_ connection: ClientConnection) async throws -> [UInt8] {
        try await Self.signIn(connection, account: account, password: password, store: store)
    }

    static func connect(_ invite: Invite) async throws -> ClientConnection {
        guard let serverKey = invite.key.noisePublicKey else { throw WatchFailure("the invite's server key is not usable") }
        return try await ClientConnection.connect(host: invite.host, port: invite.port, remoteStatic: serverKey,
                                                  localStatic: KeyPair.generate(), group: MultiThreadedEventLoopGroup.singleton)
    }

    /// Checks the password (`kith watch login`): a watch session is opened, its token kept.
    static func signIn(invite: Invite, account: String, password: String, store: WatcherStore) async throws {
        let connection = try await connect(invite)
        defer { Task { await connection.close() } }
        do {
            _ = try await signIn(connection, account: account, password: password, store: store)
        } catch let failure as WatchFailure {
            throw fail(failure.description)
        }
    }

    /// The named contacts as the server sees them, through the kept session (`kith watch add` without an agent).
    static func check(_ contacts: [String], store: WatcherStore) async throws -> [WatchedContact] {
        guard let text = try store.meta("invite"), let invite = try? Invite(parsing: text),
              let kept = try store.meta("token"), let token = [UInt8](hexString: kept)
        else { throw fail("this watcher has no session: `kith watch login INVITE --account NAME` first") }
        let connection = try await connect(invite)
        defer { Task { await connection.close() } }
        guard case .watchSession = try await connection.request(.watchResume(.init(token: token))).message,
              case .watchState(let state) = try await connection.request(.watchSubscribe(.init(token: token, contacts: contacts))).message
        else { throw fail("the watcher's session is over: `kith watch login` again") }
        return state.entries.map(contact)
    }

    private static func signIn(_ connection: ClientConnection, account: String, password: String,
                               store: WatcherStore) async throws -> [UInt8] {
        if let kept = try? store.meta("token"), let token = [UInt8](hexString: kept),
           case .watchSession = try await connection.request(.watchResume(.init(token: token))).message {
            return token
        }
        switch try await connection.request(.watchLogin(.init(account: account, password: password))).message {
        case .watchSession(let session):
            try? store.setMeta("token", session.token.hexString)
            return session.token
        case .errorMessage(let error):
            throw WatchFailure("the server refused the watcher's sign-in: \(error.message ?? "code \(error.code)")")
        default:
            throw WatchFailure("the server answered the sign-in with something else")
        }
    }

    /// Subscribes (or refreshes); a token the server no longer takes is replaced by a new sign-in.
    private func subscribe(_ connection: ClientConnection, token: inout [UInt8]) async throws {
        for _ in 0..<2 {
            switch try await connection.request(.watchSubscribe(.init(token: token, contacts: contacts))).message {
            case .watchState(let state):
                return post(state)
            case .errorMessage(let error) where error.code == ErrorCode.sessionExpired.rawValue:
                try? store.setMeta("token", nil)
                token = try await signIn(connection)
            case .errorMessage(let error):
                throw WatchFailure("the server refused the subscription: \(error.message ?? "code \(error.code)")")
            default:
                throw WatchFailure("the server answered the subscription with something else")
            }
        }
        throw WatchFailure("the server refused a fresh session's token")
    }

    private func post(_ state: WatchState) {
        inbox.post(.fetched(state.entries.map(Self.contact), nowMillis: WatchView.now()))
    }

    static func contact(_ entry: WatchEntry) -> WatchedContact {
        WatchedContact(account: entry.contact, state: entry.known ? "contact" : "unknown", online: entry.onlineDevices > 0,
                       onlineDevices: Int(entry.onlineDevices), unread: Int(entry.unread))
    }
}

struct WatchFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
