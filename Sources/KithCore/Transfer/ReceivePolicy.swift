import KithWire

/// What a sender device may do with pushes to this device (issue 6; the primary device sets
/// these remotely in issue 7, which replaces `rules` with its signed policy and keeps `decide`).
public struct ReceivePolicy: Sendable, Equatable {
    public struct Rule: Sendable, Equatable {
        /// `direct` (land without a prompt if the sender asked for it, in `folder`), `ask` (always
        /// ask this device's user) or `reject`. An unknown value never gets here (a policy with
        /// one is refused) and would reject.
        public var permission: ReceivePermission
        /// Where direct receives from this sender land; nil: the device's receive folder.
        public var folder: String?
        public init(_ permission: ReceivePermission, folder: String? = nil) {
            self.permission = permission
            self.folder = folder
        }
    }

    /// Per sender device id.
    public var rules: [String: Rule]
    /// For the account's own approved devices without a rule of their own.
    public var siblings: Rule
    /// For every other device.
    public var others: Rule

    /// The default: the account's own devices may direct-receive; nothing else may.
    public init(rules: [String: Rule] = [:], siblings: Rule = Rule(.direct), others: Rule = Rule(.reject)) {
        self.rules = rules
        self.siblings = siblings
        self.others = others
    }

    public enum Decision: Sendable, Equatable {
        /// Land now, without a prompt; nil folder: the device's receive folder.
        case land(folder: String?)
        /// Keep the offer and ask the user.
        case ask
        case reject(reason: String)
    }

    /// The rule that applies to `sender`.
    public func rule(for sender: String, isSibling: Bool) -> Rule {
        rules[sender] ?? (isSibling ? siblings : others)
    }

    /// What to do with an offer from `sender` that asks for `requested`: the stricter of what the
    /// sender asks and what the rule allows.
    public func decide(sender: String, isSibling: Bool, requested: ReceivePermission) -> Decision {
        let rule = rule(for: sender, isSibling: isSibling)
        switch (rule.permission, requested) {
        case (.reject, _), (_, .reject), (.unknown, _), (_, .unknown):
            return .reject(reason: "this device does not accept files from \(sender)")
        case (.direct, .direct):
            return .land(folder: rule.folder)
        case (.direct, .ask), (.ask, _):
            return .ask
        }
    }
}

extension ReceivePermission {
    /// The name people and settings use (`direct`, `ask`, `reject`): one of the schema's names.
    public init?(name: String) {
        guard let match = Self.allCases.first(where: { $0.description == name }) else { return nil }
        self = match
    }
}
