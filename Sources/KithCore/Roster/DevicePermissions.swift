import KithWire

/// Why a decoded policy is not a policy (Protocol/roster.md §Policies, rule P3), checked in
/// field order; the first problem found is the one reported.
public enum PolicyProblem: Error, Sendable, Equatable, CustomStringConvertible {
    /// A u8 field with a value the schema does not define (`field` names it, with the sender
    /// for a receive rule: `receive[alice-PC-1].permission`).
    case unknownValue(field: String, value: UInt8)
    case duplicateRule(sender: String)
    /// pushTo lists devices although push is not `onlyListed` ("only these").
    case unexpectedPushTo

    public var name: String {
        switch self {
        case .unknownValue: "unknownValue"
        case .duplicateRule: "duplicateRule"
        case .unexpectedPushTo: "unexpectedPushTo"
        }
    }

    public var description: String {
        switch self {
        case .unknownValue(let field, let value): "\(field) has unknown value \(value)"
        case .duplicateRule(let sender): "two receive rules for \(sender)"
        case .unexpectedPushTo: "pushTo lists devices but push is not \"only these\""
        }
    }
}

/// What a secondary may do, as its policy says: the typed form of a `DevicePolicy`. The
/// secondary enforces it itself.
public struct DevicePermissions: Sendable, Equatable {
    public enum Push: Sendable, Equatable {
        /// Any approved device of the account.
        case anyDevice
        /// Only these device ids (none, if empty).
        case only(Set<String>)
        case none
    }

    /// Receive rules for pushes to this device. `others` (devices outside the account) is
    /// always `reject`: a policy does not set it.
    public var receive: ReceivePolicy
    public var push: Push
    /// `notify` or `silent` (a policy with an unknown value is refused).
    public var messages: MessageAlert
    /// False: a message's text is deleted once it is viewed.
    public var keepHistory: Bool
    /// May ask the primary to approve a pending device (ApproveRequest).
    public var mayApprove: Bool

    /// What a secondary without a policy may do, and what a new policy starts from: the default
    /// receive rules (the account's devices direct, everyone else rejected), push to any device,
    /// notify, keep history, no approving.
    public init(receive: ReceivePolicy = ReceivePolicy(), push: Push = .anyDevice, messages: MessageAlert = .notify,
                keepHistory: Bool = true, mayApprove: Bool = false) {
        self.receive = receive
        self.push = push
        self.messages = messages
        self.keepHistory = keepHistory
        self.mayApprove = mayApprove
    }

    public func mayPush(to deviceID: String) -> Bool {
        switch push {
        case .anyDevice: true
        case .only(let ids): ids.contains(deviceID)
        case .none: false
        }
    }

    /// The permissions a policy grants; throws for values the schema does not define.
    public init(_ policy: DevicePolicy) throws(PolicyProblem) {
        var rules: [String: ReceivePolicy.Rule] = [:]
        for rule in policy.receive {
            let permission = try Self.known(rule.permission, field: "receive[\(rule.sender)].permission")
            guard rules[rule.sender] == nil else { throw .duplicateRule(sender: rule.sender) }
            rules[rule.sender] = ReceivePolicy.Rule(permission, folder: rule.folder)
        }
        let siblings = ReceivePolicy.Rule(try Self.known(policy.siblingsReceive, field: "siblingsReceive"),
                                          folder: policy.siblingsFolder)
        let push: Push
        switch policy.push {
        case .anyDevice: push = .anyDevice
        case .onlyListed: push = .only(Set(policy.pushTo))
        case .noDevice: push = .none
        case .unknown(let value): throw .unknownValue(field: "push", value: value)
        }
        guard policy.push == .onlyListed || policy.pushTo.isEmpty else { throw .unexpectedPushTo }
        if case .unknown(let value) = policy.messages { throw .unknownValue(field: "messages", value: value) }
        self.init(receive: ReceivePolicy(rules: rules, siblings: siblings, others: ReceivePolicy.Rule(.reject)),
                  push: push, messages: policy.messages, keepHistory: policy.keepHistory, mayApprove: policy.mayApprove)
    }

    /// The policy that grants these permissions (rules and pushTo sorted, so it encodes the
    /// same way every time).
    public func policy(account: String, deviceID: String, epoch: UInt32, version: UInt64, issuedAtMillis: UInt64) -> DevicePolicy {
        let scope: PushScope, pushTo: [String]
        switch push {
        case .anyDevice: (scope, pushTo) = (.anyDevice, [])
        case .only(let ids): (scope, pushTo) = (.onlyListed, ids.sorted())
        case .none: (scope, pushTo) = (.noDevice, [])
        }
        return DevicePolicy(
            account: account, deviceID: deviceID, epoch: epoch, version: version, issuedAtMillis: issuedAtMillis,
            receive: receive.rules.sorted { $0.key < $1.key }.map {
                ReceiveRule(sender: $0.key, permission: $0.value.permission, folder: $0.value.folder)
            },
            siblingsReceive: receive.siblings.permission, siblingsFolder: receive.siblings.folder,
            push: scope, pushTo: pushTo, messages: messages, keepHistory: keepHistory, mayApprove: mayApprove)
    }

    private static func known(_ permission: ReceivePermission, field: String) throws(PolicyProblem) -> ReceivePermission {
        if case .unknown(let value) = permission { throw .unknownValue(field: field, value: value) }
        return permission
    }
}
