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

        @Option(help: ArgumentHelp("What to log: trace, debug, info, notice, warning, error or critical.", valueName: "level"))
        var logLevel: LogLevelOption = .info

        @Option(help: ArgumentHelp("""
            How viewed-notices quote a message's text, so that your devices holding it under another \
            id can match it: start, middle, end, or off.
            """, valueName: "mode"))
        var noticeClip = "start"

        @Option(help: ArgumentHelp("The quote's length in bytes (1–4096).", valueName: "bytes"))
        var noticeClipBytes = 256

        @Option(help: ArgumentHelp("How long a viewed-notice for a message not yet here is kept.", valueName: "hours"))
        var noticeHoldHours = 168

        @Option(help: ArgumentHelp("""
            Where the UDP socket for direct paths to your other devices binds (HOST:PORT, port 0 for \
            any free one), or off for the relay only.
            """, valueName: "address"))
        var udp = "0.0.0.0:0"

        @Flag(inversion: .prefixedNo, help: "Announce and browse Kith agents on the LAN with DNS-SD (needs avahi-daemon).")
        var lanDiscovery = true

        @Option(help: ArgumentHelp("Where pushed files land unless a rule names another folder (default ~/Downloads/Kith).",
                                   valueName: "folder"))
        var receiveDir: String?

        @Option(help: ArgumentHelp("What pushes from your other devices may do: direct (land without a prompt when "
            + "the sender asks so), ask (always prompt) or reject.", valueName: "permission"))
        var receiveSiblings = "direct"

        @Option(help: ArgumentHelp("A rule for one sending device, DEVICE=direct|ask|reject, with :FOLDER after direct "
            + "for where its files land (repeatable). Example: alice-PC-1=direct:/srv/inbox", valueName: "rule"))
        var receiveFrom: [String] = []

        @Option(help: ArgumentHelp("Send files at most this fast, in bytes per second (K, M and G suffixes: 20M).",
                                   valueName: "rate"))
        var maxSendRate: String?

        @Option(help: ArgumentHelp("How long an offer waits for the receiver's answer unless `push --expires` says.",
                                   valueName: "seconds"))
        var offerTimeout: UInt32 = 600

        @Option(help: ArgumentHelp("Give up an incoming transfer whose sender has been silent this long, deleting its "
            + "partial copies.", valueName: "hours"))
        var abandonAfterHours: UInt64 = 168

        @Flag(help: .hidden)
        var daemonChild = false

        func validate() throws {
            guard noticeClip == "off" || ClipMode(name: noticeClip) != nil else {
                throw ValidationError("--notice-clip is start, middle, end or off")
            }
            guard (1...4096).contains(noticeClipBytes) else { throw ValidationError("--notice-clip-bytes is 1…4096") }
            guard noticeHoldHours > 0 else { throw ValidationError("--notice-hold-hours must be positive") }
            if udp != "off" {
                do { _ = try HostPort(parsing: udp, allowPortZero: true) } catch { throw ValidationError("--udp: \(error)") }
            }
            _ = try transferSettings
        }

        /// The transfer options, checked (a mistake in a rule is a usage error, not a surprise later).
        var transferSettings: TransferSettings {
            get throws {
                guard let siblings = ReceivePermission(name: receiveSiblings) else {
                    throw ValidationError("--receive-siblings is direct, ask or reject")
                }
                var rules: [String: ReceivePolicy.Rule] = [:]
                for text in receiveFrom {
                    let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
                    let value = parts.count == 2 ? parts[1].split(separator: ":", maxSplits: 1).map(String.init) : []
                    guard parts.count == 2, let permission = value.first.flatMap(ReceivePermission.init(name:)) else {
                        throw ValidationError("--receive-from \(text): expected DEVICE=direct|ask|reject[:FOLDER]")
                    }
                    let folder = value.count == 2 ? value[1] : nil
                    if let folder, !folder.hasPrefix("/") { throw ValidationError("--receive-from \(text): the folder must be absolute") }
                    rules[parts[0]] = ReceivePolicy.Rule(permission, folder: folder)
                }
                var rate: UInt64?
                if let maxSendRate {
                    guard let parsed = Self.parseRate(maxSendRate) else { throw ValidationError("--max-send-rate: a number like 500K, 20M or 1G") }
                    rate = parsed
                }
                let folder = receiveDir.map { URL(fileURLWithPath: $0).standardizedFileURL.path } ?? TransferSettings.defaultReceiveFolder
                var settings = TransferSettings(receiveFolder: folder,
                                                policy: ReceivePolicy(rules: rules, siblings: ReceivePolicy.Rule(siblings)),
                                                maxSendRate: rate, offerTTLSeconds: offerTimeout)
                settings.abandonAfterMillis = abandonAfterHours * 3_600_000
                return settings
            }
        }

        static func parseRate(_ text: String) -> UInt64? {
            let units: [Character: UInt64] = ["K": 1000, "M": 1_000_000, "G": 1_000_000_000]
            guard let last = text.uppercased().last else { return nil }
            if let unit = units[last] { return UInt64(text.dropLast()).map { $0 * unit } }
            return UInt64(text)
        }

        var settings: AgentSettings {
            AgentSettings(clip: ClipMode(name: noticeClip).map { Clip(mode: $0, limit: UInt16(noticeClipBytes)) },
                          noticeHoldMillis: UInt64(noticeHoldHours) * 3_600_000,
                          udp: udp == "off" ? nil : try? HostPort(parsing: udp, allowPortZero: true), lanDiscovery: lanDiscovery,
                          transfers: (try? transferSettings) ?? TransferSettings())
        }  // set on the re-executed background process: its stderr is the log file

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
            let logger = Self.logger(paths, toStderr: !daemonChild, toFile: daemonChild || !underUnit, level: logLevel.level)
            FileLogHandler.reopenOnHangUp()
            let agent = try Agent(paths: paths, logger: logger, settings: settings)
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
            let arguments = [executable, "agent", "--profile", paths.profile, "--daemon-child", "--log-level", logLevel.rawValue,
                             "--notice-clip", noticeClip,
                             "--notice-clip-bytes", "\(noticeClipBytes)", "--notice-hold-hours", "\(noticeHoldHours)", "--udp", udp,
                             lanDiscovery ? "--lan-discovery" : "--no-lan-discovery",
                             "--receive-siblings", receiveSiblings, "--offer-timeout", "\(offerTimeout)",
                             "--abandon-after-hours", "\(abandonAfterHours)"]
                + (receiveDir.map { ["--receive-dir", URL(fileURLWithPath: $0).standardizedFileURL.path] } ?? [])
                + receiveFrom.flatMap { ["--receive-from", $0] } + (maxSendRate.map { ["--max-send-rate", $0] } ?? [])
            var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
            defer { argv.forEach { free($0) } }
            var pid: pid_t = 0
            let status = posix_spawn(&pid, executable, &fileActions, &attributes, &argv, environ)
            guard status == 0 else { throw fail("cannot start the agent: \(String(cString: strerror(status)))") }
            let client = AgentClient(paths: paths)
            for _ in 0..<100 {
                if (try? Self.quietly { try client.call(StatusRequest(), timeout: 2) }) != nil {
                    Console.line("agent started for profile \(paths.profile) (pid \(pid)); log: \(paths.log.path)")
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

        /// Runs `body` with stderr silenced (for probing the socket while the agent starts).
        static func quietly<T>(_ body: () throws -> T) throws -> T {
            let saved = dup(2)
            let null = open("/dev/null", O_WRONLY)
            dup2(null, 2)
            defer { dup2(saved, 2); close(saved); close(null) }
            return try body()
        }

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
