import Foundation

/// One sign-in's reading of the account's archive (XEP-0313), as decisions: where the first
/// query starts, whether a page's end asks for the next, and when to stop — the server decides
/// how much there is, so a sign-in reads at most `maxPages` pages; the rest comes at the next
/// sign-in, after the last message stored.
public struct XMPPArchiveFetch: Sendable, Equatable {
    public static let maxPages = 50

    public enum Step: Equatable, Sendable {
        /// Ask for the page after this archive id.
        case next(after: String)
        /// Nothing more this sign-in.
        case done
        /// The server refused the query (no archive): offline messages still arrive.
        case refused
        /// Not the end of our open query.
        case ignore
    }

    private var open: String?
    private var pages = 0

    public init() {}

    /// Where the first query starts: after the newest archived message stored, or, for an
    /// account with none, at the time it was added (older history is not this profile's).
    public static func firstQuery(newestArchived: String?, added: Date) -> (after: String?, start: Date?) {
        newestArchived.map { ($0, nil) } ?? (nil, added)
    }

    /// A query was sent with this id.
    public mutating func asked(_ queryID: String) {
        open = queryID
        pages += 1
    }

    public mutating func ended(_ page: XMPPArchivePage) -> Step {
        guard page.queryID == open else { return .ignore }
        open = nil
        guard page.ok else { return .refused }
        guard !page.complete, let last = page.last, pages < Self.maxPages else { return .done }
        return .next(after: last)
    }
}

extension XMPPArchivedMessage {
    /// Whose conversation it belongs to and which way it went, seen from `account`: a message
    /// from the account itself is one another client of it sent. Nil for one with no other party.
    public func conversation(of account: JID) -> (peer: JID, outgoing: Bool)? {
        let outgoing = from.bare == account.bare
        guard let peer = outgoing ? to?.bare : from.bare, peer != account.bare else { return nil }
        return (peer, outgoing)
    }
}

extension XMPPError {
    /// Failures that trying again cannot mend: they wait for the user (a new password, a pin, a
    /// server that offers TLS). The others — a closed connection, a timeout, bad XML, a stream
    /// error — may pass, and are tried again after a backoff.
    public var needsTheUser: Bool {
        switch self {
        case .authenticationFailed, .noUsableMechanism, .tlsUnavailable, .tlsFailed, .certificateMismatch, .scram: true
        case .xml, .streamError, .bindFailed, .unexpected, .closed, .timedOut: false
        }
    }
}
