import KithCore
import KithWire
import Testing

/// `OutboxPolicy`: the route of every kind of item to every kind of receiver, and what each
/// server answer means.
@Suite struct OutboxPolicyTests {
    static let receivers: [OutboxPolicy.Receiver] = [
        .approvedSibling(directPath: true), .approvedSibling(directPath: false), .unapprovedSibling, .notAContact,
    ] + OutboxPolicy.ContactDevice.allCases.map { .contactDevice($0) }

    /// Every (item, receiver) pair and the route expected.
    static func expected(_ item: OutboxPolicy.Item, _ receiver: OutboxPolicy.Receiver) -> String {
        switch (item, receiver) {
        case (.note, .approvedSibling(true)), (.viewed, .approvedSibling(true)): "direct"
        case (.note, .approvedSibling(false)), (.viewed, .approvedSibling(false)): "server"
        case (.note, .unapprovedSibling), (.viewed, .unapprovedSibling): "wait"
        case (.chat, .contactDevice(.approved)): "server"
        case (.chat, .contactDevice(.held)): "wait"
        default: "drop"
        }
    }

    @Test(arguments: OutboxPolicy.Item.allCases)
    func everyItemToEveryReceiver(_ item: OutboxPolicy.Item) {
        for receiver in Self.receivers {
            let route = switch OutboxPolicy.route(item, to: receiver) {
            case .directThenServer: "direct"
            case .server: "server"
            case .wait: "wait"
            case .drop: "drop"
            }
            #expect(route == Self.expected(item, receiver), "\(item) to \(receiver)")
        }
    }

    @Test func serverAnswers() {
        #expect(OutboxPolicy.outcome(of: .ack(.init())) == .delivered(code: nil))
        #expect(OutboxPolicy.outcome(of: .chatAccepted(.init(code: 9))) == .delivered(code: 9))
        for final in [ErrorCode.forbidden, .notFound] {
            #expect(OutboxPolicy.outcome(of: .errorMessage(.init(code: final.rawValue, message: "gone"))) == .refused(reason: "gone"))
        }
        for passing in [ErrorCode.internalError, .rateLimited, .unauthenticated, .sessionExpired, .malformed, .tooLarge, .notApproved, .queueFull] {
            guard case .retryLater = OutboxPolicy.outcome(of: .errorMessage(.init(code: passing.rawValue))) else {
                Issue.record("\(passing) must not drop an item for good")
                continue
            }
        }
        guard case .retryLater = OutboxPolicy.outcome(of: .pong(.init(nonce: 1))) else { Issue.record("an unexpected answer"); return }
    }
}
