import KithAPI

/// What any note or message must be, whichever network carries it: the wire's limit (spec
/// §Message, 16384 bytes of UTF-8) and something visible.
enum MessageText {
    static let maxBytes = 16384

    static func check(_ text: String) throws {
        guard text.utf8.count <= maxBytes else { throw AgentError(.invalidRequest, "a note or message is at most \(maxBytes) bytes") }
        guard !text.allSatisfy(\.isWhitespace) else { throw AgentError(.invalidRequest, "the text is empty: nothing was sent") }
    }
}
