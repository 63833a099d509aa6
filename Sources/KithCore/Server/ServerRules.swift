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

    /// Whether a message of `type` is handled on a session that has (`loggedIn`) or has not yet
    /// logged in or resumed. Until it has, only `Hello`, `Ping`, `Signup`, `Login` and `Resume`
    /// are answered; every other request is `unauthenticated`. A message the server only ever
    /// sends, or one that travels between devices inside relay payloads and direct sessions, is
    /// no request to the server: `malformed`, logged in or not.
    public static func admission(of type: MessageType, loggedIn: Bool) -> Admission {
        switch type {
        case .hello, .ping, .signup, .login, .resume:
            return .admitted
        case .logout:
            return loggedIn ? .admitted : .refused(.unauthenticated, reason: "not logged in")
        case .relaySend, .chatSend, .endpoints, .contactRequest, .contactAccept, .contactRemove, .transitRequest,
             .rosterPublish, .policyPublish, .revoke, .accountLink, .accountUnlink, .forAccount,
             .accountSetMaster:
            return loggedIn ? .admitted : .refused(.unauthenticated, reason: "log in first")
        case .relayAck:
            return loggedIn ? .admitted : .ignored
        case .pong, .ack, .errorMessage:
            return .ignored
        case .note, .chat, .viewed, .loginResult, .deviceList, .relayDeliver, .contactList, .contactDevices, .chatAccepted,
             .fileOffer, .fileAnswer, .fileData, .fileEnd, .fileProgress, .fileCancel, .transitTicket, .transitOffer,
             .documentShare, .approveRequest, .rosterUpdate, .policyUpdate, .contactRoster, .accountLinks:
            return .refused(.malformed, reason: "\(type) is not a request to the server")
        }
    }
}
