import KithAPI
import KithCore
import KithNet
import KithStore
import KithWire
import Logging

/// What a `ServerConnection` asks of the account it serves, and tells it.
protocol ServerConnectionOwner: Actor {
    /// The session to resume; nil while the account is logged out.
    func sessionToResume() -> AgentStore.Session?
    /// The server accepted the session: the account may send on `connection` (to the instance at
    /// `address`) until `disconnected`.
    func connected(_ connection: ClientConnection, session: AgentStore.Session, address: HostPort) async
    /// The server named its instances alive now (they differ from the session's): keep them.
    func serverNamed(instances: [String]) async
    /// An unsolicited message from the server, in the order it came.
    func received(_ message: Message, session: AgentStore.Session, connection: ClientConnection) async
    /// The connection ended or could not be made; `problem` says why (nil: it closed after working).
    func disconnected(problem: String?) async
    /// The server ended the session for good: the account must log in again.
    func sessionEnded(_ reason: String) async
}

/// An account's connection to its server: connect, resume the session with its token, keep it
/// alive, and after a failure try again with backoff — the server's other instances first, when
/// it has several (`InstanceChoice`); a long outage is logged once (and every ten minutes), not
/// at every retry. It does not know what the messages mean: those go to its owner.
///
/// One per account session: the wire authenticates one device session per connection (spec
/// §Sessions), so two accounts on one server have two connections today; linked accounts (one
/// connection for several accounts) will change that here, and nowhere else.
actor ServerConnection {
    private weak var owner: (any ServerConnectionOwner)?
    private let dialer: ServerDialer
    private let logger: Logger
    private let now: @Sendable () -> UInt64
    private var wake: AsyncStream<Void>.Continuation?
    private var backoffSleep: Task<Void, Never>?
    private var loop: Task<Void, Never>?
    private var current: ClientConnection?
    /// The last failure logged at notice level, and when.
    private var lastLogged: (line: String, atMillis: UInt64)?
    /// Why it does not reconnect on its own: another copy of this device took the session
    /// (`sessionReplaced`). A login or `reconnect()` ends the hold.
    private var held: String?
    /// Which of the server's addresses to dial next; made from the session at the first connect.
    private var choice: InstanceChoice?

    /// Keepalive interval: the server marks a device offline after 15 s of silence (spec §Sessions).
    static let keepalive: Duration = .seconds(5)

    init(owner: any ServerConnectionOwner, dialer: ServerDialer, logger: Logger, now: @escaping @Sendable () -> UInt64) {
        self.owner = owner
        self.dialer = dialer
        self.logger = logger
        self.now = now
    }

    /// Starts connecting (or waiting for a login); returns at once.
    func start() {
        let (wakes, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        wake = continuation
        loop = Task { await self.run(wakes: wakes) }
    }

    /// After a login: connect now, whether waiting for a login or sleeping in backoff. The
    /// connection of an earlier session closes.
    func reconnect() async {
        held = nil
        await current?.close()
        wake?.yield()
        backoffSleep?.cancel()
    }

    /// Closes the connection for good.
    func stop() async {
        loop?.cancel()
        backoffSleep?.cancel()
        wake?.finish()
        await current?.close()
    }

    private func run(wakes: AsyncStream<Void>) async {
        var backoff = Backoff()
        var wakeIterator = wakes.makeAsyncIterator()
        while !Task.isCancelled {
            guard let owner else { return }
            guard let session = await owner.sessionToResume() else {
                guard await wakeIterator.next() != nil else { return }  // not logged in: wait for a login
                continue
            }
            var problem: String?
            do {
                try await serve(session, owner: owner)
                backoff.reset()  // the session was up; a fresh start after it ends
            } catch let ended as AgentError where ended.code == .notLoggedIn {
                await owner.sessionEnded(ended.message)
                continue
            } catch {
                problem = "server: \(error)"
                logOutage("server connection: \(error)")
            }
            current = nil
            if let held {
                // Two copies of one device would take the session from each other for ever.
                await owner.disconnected(problem: held)
                guard await wakeIterator.next() != nil else { return }
                continue
            }
            await owner.disconnected(problem: problem)
            let delay = backoff.nextDelayMillis { Double.random(in: 0...1) }
            // Sleep before the next attempt; a new login cancels the sleep.
            let sleeper = Task { _ = try? await Task.sleep(for: .milliseconds(delay)) }
            backoffSleep = sleeper
            await sleeper.value
            backoffSleep = nil
        }
    }

    /// A long outage says so once, and again every ten minutes, not at every retry.
    private func logOutage(_ line: String) {
        if line != lastLogged?.line || now() >= (lastLogged?.atMillis ?? 0) + 600_000 {
            logger.notice("\(line)")
            lastLogged = (line, now())
        } else {
            logger.debug("\(line)")
        }
    }

    /// One connection: resume with the token, then hand what arrives to the owner until it closes.
    private func serve(_ session: AgentStore.Session, owner: any ServerConnectionOwner) async throws {
        let invite = try ServerDialer.parse(session.invite)
        var choice = self.choice ?? InstanceChoice(invite: invite.addresses)
        choice.reset(invite: invite.addresses)
        choice.learn(session.instances.compactMap { try? HostPort(parsing: $0) })
        let dialed: (connection: ClientConnection, address: HostPort)
        do {
            dialed = try await dialer.connect(choosing: &choice, key: invite.key)
            self.choice = choice
        } catch {
            choice.newRound()  // after the backoff, every address again
            self.choice = choice
            throw error
        }
        let (connection, address) = dialed
        defer { self.choice?.lost(address) }
        let answer = try await connection.request(.resume(.init(token: session.token))).message
        switch answer {
        case .loginResult(let result):
            // Only addresses that parse are dialed or kept.
            let named = result.instances.compactMap { try? HostPort(parsing: $0) }
            if named.map(\.description) != session.instances {
                self.choice?.learn(named)
                await owner.serverNamed(instances: named.map(\.description))
            }
        case .errorMessage(let error) where error.code == ErrorCode.sessionExpired.rawValue:
            await connection.close()
            throw AgentError(.notLoggedIn, "the server ended this device's session; run `kith login` again")
        default:
            await connection.close()
            throw AgentError(.serverRefused, "the server refused the session: \(AccountContext.describe(answer))")
        }
        current = connection
        lastLogged = nil
        logger.info("connected to \(address) as \(session.deviceID)")
        let keepalive = Task { [logger] in await Self.keepAlive(connection, logger: logger) }
        defer { keepalive.cancel() }
        await owner.connected(connection, session: session, address: address)
        for await envelope in connection.unsolicited {
            if case .errorMessage(let error) = envelope.message, error.code == ErrorCode.sessionReplaced.rawValue {
                held = "another copy of this device took its session: \(error.message ?? "the same key connected elsewhere"). "
                    + "Two copies of one profile (a copied folder, a restored backup) split what the device receives; "
                    + "stop one, then run `kith agent restart` on the other"
                logger.error("\(held!)")
                await connection.close()
                break
            }
            await owner.received(envelope.message, session: session, connection: connection)
        }
        logger.info("disconnected from the server")
    }

    private static func keepAlive(_ connection: ClientConnection, logger: Logger) async {
        while !Task.isCancelled && !connection.isClosed {
            try? await Task.sleep(for: keepalive)
            // Woken by the cancel of a connection that closed (a logout, the server going away):
            // that is said once, as "disconnected", not as a keepalive that failed.
            guard !Task.isCancelled && !connection.isClosed else { return }
            do {
                _ = try await connection.request(.ping(.init(nonce: UInt64.random(in: 0...UInt64.max))), timeout: .seconds(10))
            } catch {
                logger.notice("keepalive failed (\(error)); reconnecting")
                await connection.close()
                return
            }
        }
    }
}
