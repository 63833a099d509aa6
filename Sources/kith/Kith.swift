import ArgumentParser
import KithCore

/// The `kith` executable: one binary for the server, the agent and the CLI verbs.
///
/// Every command names itself (`commandName:`): without it ArgumentParser derives the name from
/// the type's name through runtime reflection, a search of the binary's protocol conformances
/// for each command it looks at, and that was a third of every `kith` start (about 6 of 17 ms).
/// `CommandNameTests` keeps it so.
@main
struct Kith: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kith",
        abstract: "Make your own devices work as one.",
        discussion: """
            Kith turns the devices one person owns into contacts of each other: each runs an agent, \
            the agents find each other through a small rendezvous server or on the LAN, and then \
            talk directly, end-to-end encrypted (Noise over libsodium), relayed through the server \
            only when no direct path exists.

            Start with `kith demo` to see it all run on this machine. For real use: run `kith server` \
            somewhere reachable, then on each device `kith agent` and `kith login INVITE --account NAME`. \
            The first device is the account's primary (keep the recovery key it prints); it approves \
            each other device with `kith approve DEVICE` after comparing fingerprints, and sets what \
            they may do with `kith policy set`. `kith devices` lists your devices and `kith send \
            DEVICE TEXT` reaches one.

            Each device's state lives in a profile: --profile NAME (under ~/.local/share/kith) or a \
            directory path; default $KITH_PROFILE or "default". Exit status: 0 ok, 1 refused or \
            failed (the message says why), 3 no agent running for the profile, 4 not logged in, \
            64 bad arguments; with --json a failure is also printed on stdout as {"error": {"code": …, \
            "message": …}}, its code stable (Protocol/local-api.md). Protocol version \(KithVersion.protocolVersion).
            """,
        version: "kith \(KithVersion.software) (protocol \(KithVersion.protocolVersion))",
        subcommands: [
            AgentCommand.self, Signup.self, Login.self, Logout.self, Status.self, Devices.self, Contacts.self, Send.self, Inbox.self,
            Read.self, Events.self, Watch.self, Discover.self, Push.self, TransfersCommand.self, Accept.self, Reject.self,
            Approve.self, Deny.self, Revoke.self, Policy.self, Primary.self, Accounts.self, Networks.self, People.self, Config.self,
            Server.self, Identity.self, Demo.self,
        ]
    )
}
