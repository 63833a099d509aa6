import KithAPI
import ArgumentParser
import Foundation
import KithAgent
import KithCore
import KithWire
import Logging
#if canImport(Glibc)
import Glibc
#endif

extension Kith {
    struct AgentCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "agent",
            abstract: "Run the background agent of a profile.",
            discussion: """
                One agent per profile holds the device's session with the server, its store and \
                the local API that every other command uses. It goes to the background unless \
                --foreground; a second start of the same profile says one is already running. \
                Logs go to PROFILE/agent.log (and to stderr with --foreground). `kith agent stop` \
                and `kith agent restart` stop it cleanly; `kith agent install` writes a systemd user unit.
                """,
            subcommands: [Stop.self, Restart.self, Install.self]
        )

        @OptionGroup var profileOption: ProfileOption
        var profile: String? { profileOption.profile }

        @Flag(help: "Stay in the foreground and log to stderr too (under a systemd unit: to stderr, the journal, only).")
        var foreground = false

        // Each setting: this flag for one run, else the profile's config.toml (`kith config`), else the default.

        @Option(help: ArgumentHelp("What to log: trace, debug, info, notice, warning, error or critical (default: info).",
                                   valueName: "level"))
        var logLevel: LogLevelOption?

        @Option(help: ArgumentHelp("""
            How viewed-notices quote a message's text, so that your devices holding it under another \
            id can match it: start, middle, end, or off (default: start).
            """, valueName: "mode"))
        var noticeClip: String?

        @Option(help: ArgumentHelp("The quote's length in bytes, 1–4096 (default: 256).", valueName: "bytes"))
        var noticeClipBytes: Int?

        @Option(help: ArgumentHelp("How long a viewed-notice for a message not yet here is kept (default: 168).", valueName: "hours"))
        var noticeHoldHours: Int?

        @Option(help: ArgumentHelp("""
            Where the UDP socket for direct paths to your other devices binds (HOST:PORT, port 0 for \
            any free one), or off for the relay only (default: 0.0.0.0:0).
            """, valueName: "address"))
        var udp: String?

        @Flag(inversion: .prefixedNo, help: "Announce and browse Kith agents on the LAN with DNS-SD (needs avahi-daemon; default: on).")
        var lanDiscovery: Bool?

        @Flag(inversion: .prefixedNo, help: """
            Take pushed file names that hold bidirectional controls or invisible characters, which can make \
            a name read as another (photo<U+202E>gpj.exe shows as photoexe.jpg); default: off, such a push is refused.
            """)
        var allowHiddenNames: Bool?

        @Option(help: ArgumentHelp("Where pushed files land unless a rule names another folder (default ~/Downloads/Kith).",
                                   valueName: "folder"))
        var receiveDir: String?

        @Option(help: ArgumentHelp("What pushes from your other devices may do: direct (land without a prompt when "
            + "the sender asks so), ask (always prompt) or reject (default: direct).", valueName: "permission"))
        var receiveSiblings: String?

        @Option(help: ArgumentHelp("A rule for one sending device, DEVICE=direct|ask|reject, with :FOLDER after direct "
            + "for where its files land (repeatable). Example: alice-PC-1=direct:/srv/inbox", valueName: "rule"))
        var receiveFrom: [String] = []

        @Option(help: ArgumentHelp("Send files at most this fast, in bytes per second (K, M and G suffixes: 20M).",
                                   valueName: "rate"))
        var maxSendRate: String?

        @Option(help: ArgumentHelp("How long an offer waits for the receiver's answer unless `push --expires` says (default: 600).",
                                   valueName: "seconds"))
        var offerTimeout: UInt32?

        @Option(help: ArgumentHelp("Give up an incoming transfer whose sender has been silent this long, deleting its "
            + "partial copies (default: 168).", valueName: "hours"))
        var abandonAfterHours: UInt64?

        @OptionGroup var output: JSONOption

        @Flag(help: .hidden)
        var daemonChild = false

        /// The flags given, as `AgentOptions` merges them with the config file.
        var flags: AgentOptions.Flags {
            AgentOptions.Flags(logLevel: logLevel, noticeClip: noticeClip, noticeClipBytes: noticeClipBytes,
                               noticeHoldHours: noticeHoldHours, udp: udp, lanDiscovery: lanDiscovery, receiveDir: receiveDir,
                               receiveSiblings: receiveSiblings, receiveFrom: receiveFrom.isEmpty ? nil : receiveFrom,
                               maxSendRate: maxSendRate, offerTimeout: offerTimeout.map(Int.init),
                               abandonAfterHours: abandonAfterHours.map(Int.init), allowHiddenNames: allowHiddenNames)
        }

        func validate() throws {
            if foreground && output.json { throw ValidationError("--json is for starting the agent in the background; in the foreground it logs") }
            _ = try options(AgentPaths(profile: profile))
        }

        /// This run's options: the flags over the profile's config file over the defaults.
        func options(_ paths: AgentPaths) throws -> AgentOptions {
            let config: AgentConfigFile
            do { config = try AgentConfigFile.load(from: paths.config) } catch { throw ValidationError("the profile's settings: \(error)") }
            return try AgentOptions(flags, config: config)
        }

        func run() async throws {
            let paths = AgentPaths(profile: profile)
            if let problem = paths.socketPathProblem { throw fail(problem) }
            try FileManager.default.createDirectory(at: paths.directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
            if !foreground && !daemonChild {
                try startInBackground(paths)
                return
            }
            guard let lock = ProcessLock(paths.lock) else {
                throw fail("an agent is already running for profile \(paths.profile)\(ProcessLock.holder(paths.lock).map { " (pid \($0))" } ?? "")")
            }
            defer { withExtendedLifetime(lock) {} }
            setenv("AVAHI_COMPAT_NOWARN", "1", 1)  // before any thread: avahi's compat library warns on stderr otherwise
            // In the background the log file is the log; in the foreground stderr is too, and under
            // a systemd unit (JOURNAL_STREAM set) stderr alone, so the journal does not hold it twice.
            let underUnit = !(ProcessInfo.processInfo.environment["JOURNAL_STREAM"] ?? "").isEmpty
            let options = try options(paths)
            let logger = Self.logger(paths, toStderr: !daemonChild, toFile: daemonChild || !underUnit, level: options.logLevel.level)
            FileLogHandler.reopenOnHangUp()
            let agent = try Agent(paths: paths, logger: logger, settings: options.settings)
            StopSignals.install { signal in
                logger.notice("stopping on \(signal)")
                await agent.stop()
                try? FileManager.default.removeItem(at: paths.socket)
                logger.notice("stopped: socket removed, store closed; transfers resume at the next start")
            }
            try await agent.start()
            logger.info("agent \(KithVersion.software) for profile \(paths.profile) started, socket \(paths.socket.path)")
            try await LocalAPIServer.run(agent: agent, paths: paths, logger: logger) {
                if foreground { Console.line("agent running for profile \(paths.profile); socket \(paths.socket.path)") }
            }
        }

        /// Re-executes this binary as `kith agent --daemon-child` in a new session, its output
        /// appended to the log file, and returns once its socket answers.
        private func startInBackground(_ paths: AgentPaths) throws {
            if let pid = ProcessLock.holder(paths.lock) {
                throw fail("an agent is already running for profile \(paths.profile) (pid \(pid))")
            }
            var fileActions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&fileActions)
            defer { posix_spawn_file_actions_destroy(&fileActions) }
            posix_spawn_file_actions_addopen(&fileActions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_addopen(&fileActions, 1, paths.log.path, O_WRONLY | O_CREAT | O_APPEND, 0o600)
            posix_spawn_file_actions_adddup2(&fileActions, 1, 2)
            // Nothing else of this process goes with the agent: an inherited pipe (the caller's
            // output, when a script runs `kith agent` and reads until the end) would stay open as
            // long as the agent runs, and the caller would wait for it for ever.
            let inherited = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).compactMap { Int32($0) }
            for fd in inherited where fd > 2 { posix_spawn_file_actions_addclose(&fileActions, fd) }
            var attributes = posix_spawnattr_t()
            posix_spawnattr_init(&attributes)
            defer { posix_spawnattr_destroy(&attributes) }
            posix_spawnattr_setflags(&attributes, Int16(Self.spawnSetSID))
            let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
            // Only the flags given go along: the child reads the profile's settings itself.
            let arguments = [executable, "agent", "--profile", paths.profile, "--daemon-child"] + flags.arguments
            var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
            defer { argv.forEach { free($0) } }
            var pid: pid_t = 0
            let status = posix_spawn(&pid, executable, &fileActions, &attributes, &argv, environ)
            guard status == 0 else { throw fail("cannot start the agent: \(String(cString: strerror(status)))") }
            let client = AgentClient(paths: paths)
            for _ in 0..<100 {
                if (try? client.call(StatusRequest(), timeout: 2)) != nil {  // a failure prints nothing: Kith.main reports what is thrown
                    output.output(ServiceResult(done: "started", profile: paths.profile, pid: pid, files: [paths.log.path])) {
                        Console.line("agent started for profile \(paths.profile) (pid \(pid)); log: \(paths.log.path)")
                    }
                    return
                }
                var exitStatus: Int32 = 0
                if waitpid(pid, &exitStatus, WNOHANG) == pid {
                    throw fail("the agent stopped at once; see \(paths.log.path)")
                }
                usleep(100_000)
            }
            throw fail("the agent did not answer within 10 s; see \(paths.log.path)")
        }

        /// POSIX_SPAWN_SETSID (glibc ≥ 2.26), which Swift's Glibc module does not export.
        static let spawnSetSID: Int32 = 0x80

        static func logger(_ paths: AgentPaths, toStderr: Bool, toFile: Bool, level: Logger.Level) -> Logger {
            var logger = Logger(label: "kith.agent") { label in
                var handlers: [any LogHandler] = []
                if toStderr { handlers.append(StreamLogHandler.standardError(label: label)) }
                if toFile, let file = FileLogHandler(label: label, path: paths.log.path) { handlers.append(file) }
                return MultiplexLogHandler(handlers)
            }
            logger.logLevel = level
            return logger
        }
    }
}
