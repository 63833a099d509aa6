/// A handshake pattern as a list of tokens, the form every Noise pattern reduces to.
///
/// The engine knows nothing about particular patterns: it walks these tokens. The table below
/// is the one of the Noise specification, revision 34 (§7.4 one-way, §7.5 interactive,
/// §18 deferred), in the spec's own notation, so it can be checked against the spec line by
/// line; modifiers (`psk0`…`pskN`, joined by `+`) are applied to it as §9.2 describes.
public struct NoisePattern: Sendable, Equatable {
    public enum Token: String, Sendable, Equatable {
        case e, s, ee, es, se, ss, psk
    }

    public let name: String
    /// Keys the initiator's and the responder's pre-messages announce (`e` or `s`).
    public let initiatorPreMessage: [Token]
    public let responderPreMessage: [Token]
    /// Message `i` is written by the initiator when `i` is even, by the responder when odd.
    public let messages: [[Token]]

    /// A one-way pattern (N, K, X and their modifiers): after it, only the initiator sends.
    public var isOneWay: Bool { Self.oneWay.contains(baseName) }
    public let baseName: String

    public var usesPSK: Bool { messages.contains { $0.contains(.psk) } }

    /// Parses `IKpsk2`, `XXpsk0+psk3`, `X1K1`, …
    public init(parsing fullName: String) throws(NoiseError) {
        // Longest base name that prefixes fullName; what follows is the modifier list.
        guard let base = Self.table.keys.filter({ fullName.hasPrefix($0) }).max(by: { $0.count < $1.count }),
              let lines = Self.table[base]
        else { throw .unsupportedProtocol(fullName) }
        var (initiatorPre, responderPre, messages) = Self.parse(lines)
        let modifierText = fullName.dropFirst(base.count)
        if !modifierText.isEmpty {
            for modifier in modifierText.split(separator: "+", omittingEmptySubsequences: false) {
                guard modifier.hasPrefix("psk"), let n = Int(modifier.dropFirst(3)), n >= 0, n <= messages.count,
                      String(n) == modifier.dropFirst(3)
                else { throw .invalidModifier(String(modifier)) }
                if n == 0 { messages[0].insert(.psk, at: 0) } else { messages[n - 1].append(.psk) }
            }
        }
        self.name = fullName
        self.baseName = base
        self.initiatorPreMessage = initiatorPre
        self.responderPreMessage = responderPre
        self.messages = messages
    }

    private static func parse(_ lines: [String]) -> ([Token], [Token], [[Token]]) {
        var initiatorPre: [Token] = [], responderPre: [Token] = [], messages: [[Token]] = []
        let hasPre = lines.contains("...")
        var inPre = hasPre
        for line in lines {
            if line == "..." { inPre = false; continue }
            let fromInitiator = line.hasPrefix("->")
            let tokens = line.dropFirst(2).split(separator: ",").map {
                Token(rawValue: $0.trimmingSpaces)!  // the table is static and checked by tests
            }
            if inPre {
                if fromInitiator { initiatorPre += tokens } else { responderPre += tokens }
            } else {
                precondition(fromInitiator == (messages.count % 2 == 0), "pattern table: messages must alternate")
                messages.append(tokens)
            }
        }
        return (initiatorPre, responderPre, messages)
    }

    private static let oneWay: Set<String> = ["N", "K", "X"]

    static let table: [String: [String]] = [
        // One-way (§7.4)
        "N": ["<- s", "...", "-> e, es"],
        "K": ["-> s", "<- s", "...", "-> e, es, ss"],
        "X": ["<- s", "...", "-> e, es, s, ss"],
        // Interactive, fundamental (§7.5)
        "NN": ["-> e", "<- e, ee"],
        "NK": ["<- s", "...", "-> e, es", "<- e, ee"],
        "NX": ["-> e", "<- e, ee, s, es"],
        "KN": ["-> s", "...", "-> e", "<- e, ee, se"],
        "KK": ["-> s", "<- s", "...", "-> e, es, ss", "<- e, ee, se"],
        "KX": ["-> s", "...", "-> e", "<- e, ee, se, s, es"],
        "XN": ["-> e", "<- e, ee", "-> s, se"],
        "XK": ["<- s", "...", "-> e, es", "<- e, ee", "-> s, se"],
        "XX": ["-> e", "<- e, ee, s, es", "-> s, se"],
        "IN": ["-> e, s", "<- e, ee, se"],
        "IK": ["<- s", "...", "-> e, es, s, ss", "<- e, ee, se"],
        "IX": ["-> e, s", "<- e, ee, se, s, es"],
        // Deferred (§18)
        "NK1": ["<- s", "...", "-> e", "<- e, ee, es"],
        "NX1": ["-> e", "<- e, ee, s", "-> es"],
        "X1N": ["-> e", "<- e, ee", "-> s", "<- se"],
        "X1K": ["<- s", "...", "-> e, es", "<- e, ee", "-> s", "<- se"],
        "XK1": ["<- s", "...", "-> e", "<- e, ee, es", "-> s, se"],
        "X1K1": ["<- s", "...", "-> e", "<- e, ee, es", "-> s", "<- se"],
        "X1X": ["-> e", "<- e, ee, s, es", "-> s", "<- se"],
        "XX1": ["-> e", "<- e, ee, s", "-> es, s, se"],
        "X1X1": ["-> e", "<- e, ee, s", "-> es, s", "<- se"],
        "K1N": ["-> s", "...", "-> e", "<- e, ee", "-> se"],
        "K1K": ["-> s", "<- s", "...", "-> e, es", "<- e, ee", "-> se"],
        "KK1": ["-> s", "<- s", "...", "-> e", "<- e, ee, se, es"],
        "K1K1": ["-> s", "<- s", "...", "-> e", "<- e, ee, es", "-> se"],
        "K1X": ["-> s", "...", "-> e", "<- e, ee, s, es", "-> se"],
        "KX1": ["-> s", "...", "-> e", "<- e, ee, se, s", "-> es"],
        "K1X1": ["-> s", "...", "-> e", "<- e, ee, s", "-> se, es"],
        "I1N": ["-> e, s", "<- e, ee", "-> se"],
        "I1K": ["<- s", "...", "-> e, es, s", "<- e, ee", "-> se"],
        "IK1": ["<- s", "...", "-> e, s", "<- e, ee, se, es"],
        "I1K1": ["<- s", "...", "-> e, s", "<- e, ee, es", "-> se"],
        "I1X": ["-> e, s", "<- e, ee, s, es", "-> se"],
        "IX1": ["-> e, s", "<- e, ee, se, s", "-> es"],
        "I1X1": ["-> e, s", "<- e, ee, s", "-> se, es"],
    ]

    /// Every base pattern name the engine knows.
    public static var knownBaseNames: [String] { table.keys.sorted() }
}

extension Substring {
    fileprivate var trimmingSpaces: String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
