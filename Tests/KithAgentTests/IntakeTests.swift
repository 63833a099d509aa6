import KithCore
import KithWire
import Testing

/// `Intake`: every sender, and every (route × sender × envelope) row, with the rows that are
/// accepted named one by one — anything not named must be dropped.
@Suite struct IntakeTests {
    @Test func whosePayloadsAreOpened() {
        #expect(Intake.admit(.approvedSibling) == .open)
        #expect(Intake.admit(.approvedContactDevice) == .open)
        #expect(Intake.admit(.unapprovedSibling) == .drop(reason: "not in this device's roster"))
        #expect(Intake.admit(.unapprovedContactDevice) == .drop(reason: "not approved in the contact's roster as this device holds it"))
        #expect(Intake.admit(.stranger) == .drop(reason: "not a device of this account or of a contact"))
        guard case .wait = Intake.admit(.unknownSibling) else {
            Issue.record("a sibling not listed yet must wait (it comes again), not be dropped")
            return
        }
    }

    /// The only rows that do anything but drop.
    static let accepted: [Intake.Kind: [(Intake.Sender, Intake.Route, Intake.Handling)]] = [
        .note: [(.approvedSibling, .relay, .siblingItem), (.approvedSibling, .direct, .siblingItem)],
        .viewed: [(.approvedSibling, .relay, .siblingItem), (.approvedSibling, .direct, .siblingItem)],
        .documentShare: [(.approvedSibling, .relay, .siblingDocument)],
        .approveRequest: [(.approvedSibling, .relay, .approveRequest)],
        .chat: [(.approvedContactDevice, .relayWithCode, .contactMessage)],
    ]

    @Test(arguments: Intake.Kind.allCases)
    func everyRowOfTheTable(_ kind: Intake.Kind) {
        for sender in Intake.Sender.allCases {
            for route in Intake.Route.allCases {
                let handling = Intake.handle(kind, from: sender, via: route)
                if let row = Self.accepted[kind]?.first(where: { $0.0 == sender && $0.1 == route }) {
                    #expect(handling == row.2, "\(kind) from \(sender) via \(route)")
                } else {
                    guard case .drop = handling else {
                        Issue.record("\(kind) from \(sender) via \(route) must be dropped, got \(handling)")
                        continue
                    }
                }
            }
        }
    }

    @Test func theCasesThatMatterMost() {
        // A message from a contact's device their roster does not list, whatever the route.
        #expect(Intake.handle(.chat, from: .unapprovedContactDevice, via: .relayWithCode) == .drop(reason: "not admitted: unapprovedContactDevice"))
        // A message without the server's code, or from a sibling.
        if case .contactMessage = Intake.handle(.chat, from: .approvedContactDevice, via: .relay) { Issue.record("a chat without a code") }
        if case .contactMessage = Intake.handle(.chat, from: .approvedSibling, via: .relayWithCode) { Issue.record("a chat from a sibling") }
        // A contact cannot send notes or notices, nor pass on documents.
        if case .siblingItem = Intake.handle(.note, from: .approvedContactDevice, via: .relay) { Issue.record("a note from a contact") }
        if case .siblingDocument = Intake.handle(.documentShare, from: .approvedContactDevice, via: .relay) { Issue.record("a document from a contact") }
        #expect(Intake.Kind(.ping(.init(nonce: 1))) == .other)
        #expect(Intake.Kind(.note(.init(id: [], sentAtMillis: 0, text: ""))) == .note)
    }
}
