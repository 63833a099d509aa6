import KithAPI
import ArgumentParser
import Foundation
import KithAgent

/// Approval, revocation, hand-over, recovery and policies: the primary device's control over the
/// account's other devices (Protocol/roster.md).
extension Kith {
    struct Approve: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "approve",
            abstract: "Approve a device waiting to join your account (on the primary).",
            discussion: """
                A device that logs in to your account is pending: its siblings give it nothing until \
                the primary approves it. Compare the fingerprint `kith devices --pending` shows here \
                with the one the new device shows (`kith status` there), then approve it. The primary \
                signs a new roster with the device in it; every device follows it. On a secondary \
                whose policy has approve=yes, this asks the primary to approve it.

                --auto DURATION approves every device that logs in during the next DURATION (at most \
                1h, at most 8 devices) without a fingerprint check, for unattended set-ups; --auto off \
                closes the window.
                """)
        @OptionGroup var options: ClientOptions

        @Argument(help: "The pending device's id, e.g. alice-PC-2.")
        var device: String?

        @Option(help: ArgumentHelp("Approve new devices without asking for this long (90s, 10m, 1h), or `off`.", valueName: "duration"))
        var auto: String?

        func validate() throws {
            guard (device == nil) != (auto == nil) else { throw ValidationError("name a device, or give --auto DURATION") }
        }

        func run() throws {
            if let auto {
                try options.rosterRequest(AutoApproveRequest(duration: auto))
            } else {
                try options.rosterRequest(ApproveDeviceRequest(to: device ?? ""))
            }
        }
    }

    struct Deny: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "deny",
            abstract: "Refuse a device waiting to join your account (on the primary).",
            discussion: "The server revokes its session and refuses its key from then on.")
        @OptionGroup var options: ClientOptions

        @Argument(help: "The pending device's id.")
        var device: String

        func run() throws {
            try options.rosterRequest(DenyRequest(to: device))
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "revoke",
            abstract: "Remove a device from your account (on the primary).",
            discussion: """
                The primary signs a roster without the device: its siblings drop its sessions and \
                refuse it from then on. The server then revokes its session and refuses its key. \
                (Earlier versions called this `kith unlink`, which still works.)
                """,
            aliases: ["unlink"])
        @OptionGroup var options: ClientOptions

        @Argument(help: "The device's id.")
        var device: String

        func run() throws {
            try options.rosterRequest(RevokeRequest(to: device))
        }
    }

    struct Policy: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "policy",
            abstract: "Show or set what a secondary device may do.",
            subcommands: [Show.self, Set.self])

        struct Show: ParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "show",
                abstract: "Show the policy of a secondary (all of them on the primary; this device's own on a secondary).")
            @OptionGroup var options: ClientOptions

            @Argument(help: "A device id.")
            var device: String?

            func run() throws {
                let result = try options.client.call(PolicyShowRequest(to: device))
                options.output(result) {
                    if result.policies.isEmpty { Console.line("no secondary devices") }
                    for policy in result.policies {
                        Console.line("\(policy.device.printable): " + (policy.version.map { "policy \($0)" } ?? "no policy set (its own settings)"))
                        for setting in policy.settings { Console.line("  \(setting.printable)") }
                    }
                }
            }
        }

        struct Set: ParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "set",
                abstract: "Set a secondary's policy (on the primary).",
                discussion: """
                    Settings not named keep their value. The primary signs the policy; the secondary \
                    takes it within a second when it is online, or when it next connects, and enforces \
                    it itself.

                      receive=direct|ask|reject[:FOLDER]   files from the account's other devices
                      receive.DEVICE=direct|ask|reject[:FOLDER]|default   files from one device
                      push=any|none|DEVICE,DEVICE          where it may push files
                      messages=notify|silent               alert on incoming messages, or not
                      history=keep|drop                    drop: delete a message's text once viewed
                      approve=yes|no                       may ask the primary to approve devices

                    A FOLDER is absolute, or relative to the device's receive folder.
                    """)
            @OptionGroup var options: ClientOptions

            @Argument(help: "The secondary's id.")
            var device: String

            @Argument(help: "key=value settings.")
            var settings: [String]

            func run() throws {
                let result = try options.client.call(PolicySetRequest(to: device, settings: settings))
                options.output(result) {
                    for policy in result.policies {
                        Console.line("\(policy.device.printable): policy \(policy.version ?? 0)")
                        for setting in policy.settings { Console.line("  \(setting.printable)") }
                    }
                }
            }
        }
    }

    struct Primary: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "primary",
            abstract: "Hand the primary role to another device, or take it with the recovery key.",
            subcommands: [HandOver.self, Recover.self])

        struct HandOver: ParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "hand-over",
                abstract: "Make another approved device the primary (on the primary); this one becomes a secondary.")
            @OptionGroup var options: ClientOptions

            @Argument(help: "The new primary's id.")
            var device: String

            func run() throws {
                try options.rosterRequest(HandOverRequest(to: device))
            }
        }

        struct Recover: ParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "recover",
                abstract: "Make this device the primary with the recovery key, when the primary is lost.",
                discussion: """
                    The recovery key was shown once when the account's first device logged in. This \
                    device signs, with it, a roster in which it is the primary and the old primary is \
                    gone; every device follows it, and the old primary's signature no longer counts. A \
                    new recovery key is shown once: the one typed in is used up.
                    """)
            @OptionGroup var options: ClientOptions

            @Option(help: ArgumentHelp("Read the recovery key from the first line of this file.", valueName: "file"))
            var recoveryKeyFile: String?

            func run() throws {
                let text = try readPassword(file: recoveryKeyFile, prompt: "Recovery key: ")
                let result = try options.client.call(RecoverRequest(text: text))
                options.output(result) {
                    Console.line(result.note ?? "done")
                    if let key = result.recoveryKey { showRecoveryKey(key) }
                }
            }
        }
    }
}

extension ClientOptions {
    /// Runs a roster request (approve, deny, revoke, hand-over) and says what happened.
    func rosterRequest<R: APIRequest>(_ request: R) throws where R.Result == RosterResult {
        let result = try client.call(request)
        output(result) { Console.line(result.note ?? "done") }
    }
}

/// Prints a recovery key the one time it is shown.
func showRecoveryKey(_ key: String) {
    Console.line("")
    Console.line("RECOVERY KEY (shown once; write it down and keep it offline):")
    Console.line("    \(key)")
    Console.line("With it, `kith primary recover` on another device makes that device the primary if this one is lost.")
}
