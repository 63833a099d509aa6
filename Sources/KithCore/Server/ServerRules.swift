import KithCrypto
import KithWire

/// Who may do what on the rendezvous server: the authorization rules of Protocol/spec.md
/// §Sessions, §Relay, §Contacts, §Messages between people, §Transit and Protocol/roster.md
/// §The first roster, §Revoke and Protocol/links.md §Links, as pure functions. The server's session and roster keeper do the
/// I/O — read the store, send, log — and ask these for every decision, so each rule can be
/// tested as a scenario without sockets, processes or a database. Each rule takes only what
/// the server already knows (the caller's session, what its store says about the target) and
/// never what the request claims about its sender.
public enum ServerRules {
    /// A logged-in device as its session knows it: the id the server gave it, its account, and
    /// the key it logged in with (spec §Sessions).
    public struct Caller: Sendable, Equatable {
        public var deviceID: String
        public var account: String
        /// Nil only for a stored key that is not 32 bytes, which no login stores; such a caller
        /// is the primary of no roster.
        public var key: SigningPublicKey?

        public init(deviceID: String, account: String, key: SigningPublicKey?) {
            self.deviceID = deviceID
            self.account = account
            self.key = key
        }
    }

    /// What a rule says about one request.
    public enum Decision: Sendable, Equatable {
        case allowed
        /// Answer with an `ErrorMessage` of `code`; `reason` is its `message`, for people and
        /// logs (a peer never parses it, spec §Error codes).
        case refused(ErrorCode, reason: String)
    }
}

// MARK: - Sessions (spec §Sessions)

extension ServerRules {
    /// What the server does with a message that arrives on an agent's session.
    public enum Admission: Sendable, Equatable {
        /// Handle it: a request the server answers, or a logged-in device's `RelayAck`.
        case admitted
        /// Drop it without an answer: a reply to something the server sent (`Pong`, `Ack`,
        /// `ErrorMessage`), or a `RelayAck` before a login, which acknowledges nothing the
        /// session could have delivered. An answer to a reply could start a loop of errors.
        case ignored
        case refused(ErrorCode, reason: String)
    }

    /// What a connection to the server is, as far as admission goes.
    public enum SessionKind: Sendable, Equatable {
        /// Not logged in, resumed or watching yet.
        case none
        /// A device's session (after `Login` or `Resume`).
        case device
        /// A watch session (after `WatchLogin` or `WatchResume`, spec §Watch sessions): no device.
        case watcher
    }

    /// Whether a message of `type` is handled on a session that has (`loggedIn`) or has not yet
    /// logged in or resumed as a device.
    public static func admission(of type: MessageType, loggedIn: Bool) -> Admission {
        admission(of: type, session: loggedIn ? .device : .none)
    }

    /// Whether a message of `type` is handled on a session of `kind`. Until a session has logged
    /// in, resumed or opened a watch session, only `Hello`, `Ping`, `Signup`, `Login`, `Resume`,
    /// `WatchLogin` and `WatchResume` are answered; every other request is `unauthenticated`. A
    /// watch session is scoped to its subscription: it may send `Hello`, `Ping` and
    /// `WatchSubscribe`, and any other request is `forbidden` (it never acknowledges or takes a
    /// queued item, and is never a device). A message the server only ever sends, or one that
    /// travels between devices inside relay payloads and direct sessions, is no request to the
    /// server: `malformed`, whatever the session.
    public static func admission(of type: MessageType, session kind: SessionKind) -> Admission {
        let device = kind == .device
        switch type {
        case .hello, .ping:
            return .admitted
        case .pong, .ack, .errorMessage:
            return .ignored
        case .note, .chat, .viewed, .loginResult, .deviceList, .relayDeliver, .contactList, .contactDevices, .chatAccepted,
             .fileOffer, .fileAnswer, .fileData, .fileEnd, .fileProgress, .fileCancel, .transitTicket, .transitOffer,
             .documentShare, .approveRequest, .rosterUpdate, .policyUpdate, .contactRoster, .accountLinks, .watchSession,
             .watchState:
            return .refused(.malformed, reason: "\(type) is not a request to the server")
        case .watchSubscribe:
            switch kind {
            case .watcher: return .admitted
            case .device: return .refused(.forbidden, reason: "a device's session has no watch subscription; open a watch session")
            case .none: return .refused(.unauthenticated, reason: "open a watch session first (WatchLogin or WatchResume)")
            }
        case .relayAck:
            return device ? .admitted : .ignored
        case _ where kind == .watcher:
            return .refused(.forbidden, reason: "a watch session only watches; \(type) needs a device's session")
        case .signup, .login, .resume:
            return .admitted
        case .watchLogin, .watchResume:
            return device ? .refused(.forbidden, reason: "a device's session cannot become a watch session") : .admitted
        case .logout:
            return device ? .admitted : .refused(.unauthenticated, reason: "not logged in")
        case .relaySend, .chatSend, .endpoints, .contactRequest, .contactAccept, .contactRemove, .transitRequest,
             .rosterPublish, .policyPublish, .revoke, .accountLink, .accountUnlink, .forAccount, .accountSetMaster,
             .unreadReport:
            return device ? .admitted : .refused(.unauthenticated, reason: "log in first")
        }
    }
}
