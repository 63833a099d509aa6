import KithWire

/// The `key=value` form of a secondary's permissions, for `kith policy set` and `kith policy
/// show`: `describe` writes every setting, and `apply` of what it wrote gives the same
/// permissions back.
///
/// | key | values |
/// | --- | --- |
/// | `receive` | `direct`, `ask` or `reject`, then optionally `:FOLDER` — for the account's other devices |
/// | `receive.DEVICE` | the same, for one sending device; `default` removes its rule |
/// | `push` | `any`, `none`, or device ids separated by commas |
/// | `messages` | `notify` or `silent` |
/// | `history` | `keep` or `drop` (the text of a viewed message is deleted) |
/// | `approve` | `yes` or `no` (may ask the primary to approve a device) |
public enum PolicySettings {
    public struct Problem: Error, Sendable, Equatable, CustomStringConvertible {
        public let setting: String
        public let why: String
        public var description: String { "\(setting): \(why)" }
    }

    public static func apply(_ settings: [String], to start: DevicePermissions) throws(Problem) -> DevicePermissions {
        var permissions = start
        for setting in settings {
            guard let equals = setting.firstIndex(of: "=") else {
                throw Problem(setting: setting, why: "expected key=value")
            }
            let key = String(setting[..<equals]), value = String(setting[setting.index(after: equals)...])
            switch key {
            case "receive":
                permissions.receive.siblings = try rule(value, setting)
            case _ where key.hasPrefix("receive."):
                let sender = String(key.dropFirst("receive.".count))
                guard !sender.isEmpty, sender.utf8.count <= 80 else { throw Problem(setting: setting, why: "a device id is 1 to 80 bytes") }
                permissions.receive.rules[sender] = value == "default" ? nil : try rule(value, setting)
            case "push":
                switch value {
                case "any": permissions.push = .anyDevice
                case "none": permissions.push = .none
                default:
                    let ids = value.split(separator: ",").map(String.init)
                    guard !ids.isEmpty, ids.count <= 64, ids.allSatisfy({ $0.utf8.count <= 80 }) else {
                        throw Problem(setting: setting, why: "push is any, none, or up to 64 device ids separated by commas")
                    }
                    permissions.push = .only(Set(ids))
                }
            case "messages":
                switch value {
                case "notify": permissions.messages = .notify
                case "silent": permissions.messages = .silent
                default: throw Problem(setting: setting, why: "messages is notify or silent")
                }
            case "history":
                switch value {
                case "keep": permissions.keepHistory = true
                case "drop": permissions.keepHistory = false
                default: throw Problem(setting: setting, why: "history is keep or drop")
                }
            case "approve":
                switch value {
                case "yes": permissions.mayApprove = true
                case "no": permissions.mayApprove = false
                default: throw Problem(setting: setting, why: "approve is yes or no")
                }
            default:
                throw Problem(setting: setting, why: "unknown key; one of receive, receive.DEVICE, push, messages, history, approve")
            }
        }
        guard permissions.receive.rules.count <= 64 else { throw Problem(setting: "receive", why: "at most 64 per-device rules") }
        return permissions
    }

    /// Every setting of `permissions`, in a fixed order.
    public static func describe(_ permissions: DevicePermissions) -> [String] {
        var lines = ["receive=\(describe(permissions.receive.siblings))"]
        lines += permissions.receive.rules.sorted { $0.key < $1.key }.map { "receive.\($0.key)=\(describe($0.value))" }
        switch permissions.push {
        case .anyDevice: lines.append("push=any")
        case .none: lines.append("push=none")
        case .only(let ids): lines.append("push=\(ids.sorted().joined(separator: ","))")
        }
        lines.append("messages=\(permissions.messages == .notify ? "notify" : "silent")")
        lines.append("history=\(permissions.keepHistory ? "keep" : "drop")")
        lines.append("approve=\(permissions.mayApprove ? "yes" : "no")")
        return lines
    }

    private static func rule(_ value: String, _ setting: String) throws(Problem) -> ReceivePolicy.Rule {
        let parts = value.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        guard let permission = ReceivePermission(name: String(parts[0])) else {
            throw Problem(setting: setting, why: "a receive rule is direct, ask or reject, then optionally :FOLDER")
        }
        let folder = parts.count > 1 ? String(parts[1]) : nil
        if let folder {
            guard !folder.isEmpty, folder.utf8.count <= 256 else { throw Problem(setting: setting, why: "a folder is 1 to 256 bytes") }
            guard permission == .direct else { throw Problem(setting: setting, why: "only direct receive lands in a folder") }
        }
        return ReceivePolicy.Rule(permission, folder: folder)
    }

    private static func describe(_ rule: ReceivePolicy.Rule) -> String {
        rule.permission.description + (rule.folder.map { ":\($0)" } ?? "")
    }
}
