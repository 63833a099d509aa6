import ArgumentParser
import KithCore

/// The `kith` executable: one binary for the server, the agent and the CLI verbs.
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

            This build is the foundation (protocol version \(KithVersion.protocolVersion)): device \
            identities, and a Noise-secured channel between two processes (`listen` and `dial`). \
            The server, the agent and the verbs for people (login, devices, send, push…) come next.

            Each command keeps its state in a profile directory: --profile DIR, or $KITH_PROFILE, \
            or ~/.local/share/kith/default.
            """,
        version: "kith \(KithVersion.software) (protocol \(KithVersion.protocolVersion))",
        subcommands: [
            AgentCommand.self, Login.self, Logout.self, Status.self, Devices.self, Send.self, Inbox.self,
            Server.self, Identity.self, Demo.self,
        ]
    )
}
