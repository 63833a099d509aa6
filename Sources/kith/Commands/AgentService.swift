import ArgumentParser
import Foundation
import KithAgent
#if canImport(Glibc)
import Glibc
#endif

extension Kith.AgentCommand {
    struct Stop: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "stop",
            abstract: "Stop the profile's agent cleanly (SIGTERM: its socket removed, its store closed).")
        @OptionGroup var profileOption: ProfileOption
        @OptionGroup var output: JSONOption
        var profile: String? { profileOption.profile }

        func run() throws {
            let paths = AgentPaths(profile: profile)
            guard let pid = ProcessLock.holder(paths.lock), pid > 0 else {
                throw fail(AgentClient.noAgent(paths), status: ExitStatus.agentNotRunning)
            }
            try Self.stop(pid: pid, paths: paths)
            output.output(ServiceResult(done: "stopped", profile: paths.profile, pid: pid)) {
                Console.line("stopped the agent of profile \(paths.profile) (pid \(pid))")
            }
        }

        /// SIGTERM, then waits up to 15 s for the lock to be free.
        static func stop(pid: Int32, paths: AgentPaths) throws {
            guard kill(pid, SIGTERM) == 0 else { throw fail("cannot signal the agent (pid \(pid)): \(String(cString: strerror(errno)))") }
            for _ in 0..<150 {
                if ProcessLock.holder(paths.lock) == nil { return }
                usleep(100_000)
            }
            throw fail("the agent (pid \(pid)) did not stop within 15 s; see \(paths.log.path)")
        }
    }

    struct Restart: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "restart",
            abstract: "Stop the profile's agent and start it again in the background.",
            discussion: "It starts with the agent's defaults and the options given here after --, like `kith agent`'s own.")
        @OptionGroup var profileOption: ProfileOption
        @OptionGroup var output: JSONOption
        var profile: String? { profileOption.profile }
        @Argument(parsing: .postTerminator, help: "Options for the new agent, after --.")
        var options: [String] = []

        func run() async throws {
            let paths = AgentPaths(profile: profile)
            if let pid = ProcessLock.holder(paths.lock), pid > 0 { try Stop.stop(pid: pid, paths: paths) }
            guard let agent = try Kith.AgentCommand.parseAsRoot(["--profile", paths.profile] + (output.json ? ["--json"] : []) + options)
                    as? Kith.AgentCommand,
                  !agent.foreground
            else {
                throw ValidationError("restart starts the agent in the background: leave out --foreground")
            }
            try await agent.run()
        }
    }

    struct Install: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "install",
            abstract: "Install a systemd user unit that runs an agent per profile, and shell completions.",
            discussion: """
                Writes ~/.config/systemd/user/kith-agent@.service (or prints it with --print); then \
                `systemctl --user enable --now kith-agent@PROFILE` runs the agent of PROFILE at login \
                and restarts it if it fails. Under the unit the agent logs to the journal. It also writes \
                completions for bash (~/.local/share/bash-completion/completions/kith, loaded by \
                bash-completion), zsh (~/.local/share/zsh/site-functions/_kith: add that folder to fpath) \
                and fish (~/.config/fish/completions/kith.fish).
                """)
        @Flag(help: "Print the unit instead of writing it.") var print = false
        @OptionGroup var output: JSONOption

        /// The user's home: `$HOME`, as `systemctl --user` and the shells take it (Foundation's
        /// home on Linux is the password database's, whatever `$HOME` says).
        static var home: URL {
            ProcessInfo.processInfo.environment["HOME"].map { URL(fileURLWithPath: $0) }
                ?? FileManager.default.homeDirectoryForCurrentUser
        }

        /// Where each shell looks for a user's completion scripts, under the home folder.
        static let completions: [(CompletionShell, String)] = [
            (.bash, ".local/share/bash-completion/completions/kith"),
            (.zsh, ".local/share/zsh/site-functions/_kith"),
            (.fish, ".config/fish/completions/kith.fish"),
        ]

        func run() throws {
            let unit = SystemdUnits.agent(executable: SystemdUnits.executable)
            if print { return Console.line(unit, terminator: "") }
            let folder = Self.home.appendingPathComponent(".config/systemd/user")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let file = folder.appendingPathComponent("kith-agent@.service")
            try Data(unit.utf8).write(to: file)
            var written = [file.path]
            for (shell, path) in Self.completions {
                let target = Self.home.appendingPathComponent(path)
                try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
                try Data(Kith.completionScript(for: shell).utf8).write(to: target)
                written.append(target.path)
            }
            let next = "systemctl --user daemon-reload && systemctl --user enable --now kith-agent@default"
            output.output(ServiceResult(done: "installed", files: written, next: next)) {
                Console.line("wrote \(file.path)")
                for (path, (shell, _)) in zip(written.dropFirst(), Self.completions) { Console.line("wrote \(path) (\(shell.rawValue) completions)") }
                Console.line("now: \(next)")
            }
        }
    }
}

/// `--profile`, parsed once and shared by `kith agent` and its subcommands.
struct ProfileOption: ParsableArguments {
    @Option(help: ArgumentHelp("The profile: a name under ~/.local/share/kith, or a directory path.", valueName: "name"))
    var profile: String?
}

/// The systemd units, made with this binary's path.
enum SystemdUnits {
    static var executable: String { URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path }

    /// A user unit template: `kith-agent@PROFILE.service`.
    static func agent(executable: String) -> String {
        """
        [Unit]
        Description=Kith agent for profile %i

        [Service]
        Type=simple
        ExecStart=\(executable) agent --profile %i --foreground
        # SIGTERM stops it cleanly: socket removed, store closed, transfers resumable.
        KillSignal=SIGTERM
        TimeoutStopSec=20
        Restart=on-failure
        RestartSec=5

        [Install]
        WantedBy=default.target

        """
    }

    /// The server's system unit.
    static func server(executable: String, data: String, listen: String, advertise: String?) -> String {
        """
        [Unit]
        Description=Kith rendezvous server
        After=network-online.target
        Wants=network-online.target

        [Service]
        Type=simple
        ExecStart=\(executable) server --data \(data) --listen \(listen)\(advertise.map { " --advertise \($0)" } ?? "")
        # SIGTERM stops it cleanly: the store closed; agents reconnect.
        KillSignal=SIGTERM
        TimeoutStopSec=20
        Restart=on-failure
        RestartSec=5
        DynamicUser=yes
        StateDirectory=kith
        StateDirectoryMode=0700
        NoNewPrivileges=yes
        ProtectSystem=strict
        ProtectHome=yes
        PrivateTmp=yes
        ReadWritePaths=\(data)

        [Install]
        WantedBy=multi-user.target

        """
    }
}
