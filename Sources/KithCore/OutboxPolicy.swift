import KithWire

/// How the outbox hands on one item, and what a server's answer means for it (Protocol/spec.md
/// §Relay, §Messages between people, §Direct messages; Protocol/roster.md §Contacts' rosters).
/// Pure: the agent gathers the facts, asks, and carries the answer out; it never decides itself
/// which route an item takes, which receivers wait, or which refusals are final.
public enum OutboxPolicy {
    /// The outbox's kinds of item.
    public enum Item: Sendable, Hashable, CaseIterable {
        /// A note to a sibling.
        case note
        /// A viewed-notice to a sibling.
        case viewed
        /// One copy of a message to a contact's device.
        case chat
    }

    /// What this device knows of the receiver.
    public enum Receiver: Sendable, Hashable {
        /// A sibling the held roster approves (its key comes from the roster).
        case approvedSibling(directPath: Bool)
        /// A sibling the roster does not approve, or one not known yet: it may be approved later.
        case unapprovedSibling
        /// A device of a contact, as the contact's roster book has it.
        case contactDevice(ContactDevice)
        /// A device of an account that is not (any longer) a contact.
        case notAContact
    }

    public enum ContactDevice: Sendable, Hashable, CaseIterable {
        /// In the held roster, and messages may go.
        case approved
        /// Not in the held roster (revoked, or never approved).
        case notInRoster
        /// No roster of the contact is held yet, or a key change waits for the user.
        case held
    }

    public enum Route: Sendable, Equatable {
        /// Try the direct path first; the server if it fails.
        case directThenServer
        /// Through the server (which gives a message its code).
        case server
        /// Keep it, and everything after it to this receiver, for later.
        case wait(reason: String)
        /// Drop it for good, with the reason shown to the user.
        case drop(reason: String)
    }

    public static func route(_ item: Item, to receiver: Receiver) -> Route {
        switch (item, receiver) {
        case (.note, .approvedSibling(let direct)), (.viewed, .approvedSibling(let direct)):
            direct ? .directThenServer : .server
        case (.note, .unapprovedSibling), (.viewed, .unapprovedSibling):
            .wait(reason: "no approved key for it here yet; the outbox waits for its device list and roster")
        case (.chat, .contactDevice(.approved)):
            .server
        case (.chat, .contactDevice(.notInRoster)):
            .drop(reason: "not in the contact's roster")
        case (.chat, .contactDevice(.held)):
            .wait(reason: "the contact's keys changed, or their roster has not come")
        case (.chat, .notAContact):
            .drop(reason: "no longer a contact's device")
        case (.note, .contactDevice), (.viewed, .contactDevice), (.note, .notAContact), (.viewed, .notAContact),
             (.chat, .approvedSibling), (.chat, .unapprovedSibling):
            .drop(reason: "a \(item) does not go to that device")
        }
    }

    /// What the server's answer to a RelaySend or ChatSend means.
    public enum Outcome: Sendable, Equatable {
        /// Committed by the server: mark it sent (with the message's code, for a ChatSend).
        case delivered(code: UInt64?)
        /// Refused for good (the receiver is gone, or is no contact): drop it and go on.
        case refused(reason: String)
        /// Not now: keep it and what follows it to this receiver.
        case retryLater(reason: String)
    }

    public static func outcome(of answer: Message) -> Outcome {
        switch answer {
        case .ack: .delivered(code: nil)
        case .chatAccepted(let accepted): .delivered(code: accepted.code)
        case .errorMessage(let error):
            switch ErrorCode(rawValue: error.code) {
            case .forbidden?, .notFound?: .refused(reason: error.message ?? "error \(error.code)")
            // `notApproved`: this device is pending; it goes once a roster approves it.
            // `queueFull`: the server holds enough for the receiver (or from this device) until
            // some is taken. Any other refusal, and a code this version does not know, is kept too.
            default: .retryLater(reason: error.message ?? "error \(error.code)")
            }
        default: .retryLater(reason: "unexpected \(answer.type)")
        }
    }
}
