import KithWire

/// What a device does with a device-to-device envelope that arrives, by the relay or on a direct
/// path (Protocol/spec.md §Relayed device messages, §Direct messages; Protocol/roster.md): one
/// table for both routes, so the relay and the direct path can never disagree on who may send
/// what. The agent classifies the sender, asks `admit` whether to open the payload at all, then
/// asks `handle` what to do with what it opened, and carries the answer out.
public enum Intake {
    /// Who sent it, as this device knows them.
    public enum Sender: Sendable, Hashable, CaseIterable {
        /// A device of this account, in the held roster with the key the payload is sealed with.
        case approvedSibling
        /// A device of this account the server lists but the roster does not approve: pending,
        /// revoked, or put in the list by the server.
        case unapprovedSibling
        /// A device of this account the device list does not name yet.
        case unknownSibling
        /// A device of an accepted contact that the contact's held roster lists.
        case approvedContactDevice
        /// A device of an accepted contact that the contact's held roster does not list (or no
        /// roster of the contact is held).
        case unapprovedContactDevice
        /// A device of any other account (a contact that ended included).
        case stranger
    }

    /// The route it came by.
    public enum Route: Sendable, Hashable, CaseIterable {
        /// A relayed payload with a server code (`RelayDeliver.code`: a message between people).
        case relayWithCode
        /// A relayed payload without a code.
        case relay
        /// A direct path's session (only approved siblings have one).
        case direct
    }

    /// The envelope inside, once opened.
    public enum Kind: Sendable, Hashable, CaseIterable {
        case note, viewed, chat, documentShare, approveRequest
        /// Any other message type: nothing a device sends another this way.
        case other
    }

    /// Whether to open a payload from `sender`.
    public enum Admission: Sendable, Equatable {
        case open
        /// Acknowledge it (so it is not delivered again) and drop it.
        case drop(reason: String)
        /// Do not acknowledge it: it comes again on the next session, when the device list may
        /// name the sender.
        case wait(reason: String)
    }

    /// What the agent does with an opened envelope.
    public enum Handling: Sendable, Equatable {
        /// A note or viewed-notice from a sibling: commit it.
        case siblingItem
        /// A roster or policy a sibling passes on: check it like one from the server.
        case siblingDocument
        /// A secondary asks the primary to approve a device.
        case approveRequest
        /// A message from a contact: commit it with its server code.
        case contactMessage
        /// Acknowledge and drop.
        case drop(reason: String)
    }

    public static func admit(_ sender: Sender) -> Admission {
        switch sender {
        case .approvedSibling, .approvedContactDevice: .open
        case .unapprovedSibling: .drop(reason: "not in this device's roster")
        case .unknownSibling: .wait(reason: "whose key is not here yet; it will come again")
        case .unapprovedContactDevice: .drop(reason: "not approved in the contact's roster as this device holds it")
        case .stranger: .drop(reason: "not a device of this account or of a contact")
        }
    }

    /// The table: route × sender × envelope → handling. Only the rows named here are accepted.
    public static func handle(_ kind: Kind, from sender: Sender, via route: Route) -> Handling {
        switch (kind, sender, route) {
        case (.note, .approvedSibling, .relay), (.note, .approvedSibling, .direct),
             (.viewed, .approvedSibling, .relay), (.viewed, .approvedSibling, .direct):
            .siblingItem
        case (.documentShare, .approvedSibling, .relay):
            .siblingDocument
        case (.approveRequest, .approvedSibling, .relay):
            .approveRequest
        case (.chat, .approvedContactDevice, .relayWithCode):
            .contactMessage
        default:
            .drop(reason: admit(sender) == .open ? "a \(kind) is not accepted from \(sender) \(route.phrase)"
                : "not admitted: \(sender)")
        }
    }
}

extension Intake.Route {
    var phrase: String {
        switch self {
        case .relayWithCode: "through the relay with a code"
        case .relay: "through the relay"
        case .direct: "on a direct path"
        }
    }
}

extension Intake.Kind {
    public init(_ message: Message) {
        self = switch message {
        case .note: .note
        case .viewed: .viewed
        case .chat: .chat
        case .documentShare: .documentShare
        case .approveRequest: .approveRequest
        default: .other
        }
    }
}
