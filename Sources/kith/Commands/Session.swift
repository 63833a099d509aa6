import KithAPI
import ArgumentParser
import Foundation
import KithAgent
import KithStore
import KithCore
import KithWire

extension Kith {
    struct Login: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "login",
            abstract: "Log this device in to a Kith server.",
            discussion: """
                The agent of the profile connects to the server of INVITE (pinning its key), logs in, \
                and keeps the session from then on. The server gives the device an id such as \
                alice-PC-1; the same device always gets its id back. The password is read from \
                --password-file, standard input or a prompt, and is not stored.
                """
        )

        @OptionGroup var options: ProfileClientOptions

        @Argument(help: "The server's invite, kith://HOST:PORT/#KEY (printed by `kith server`). Without it, every network signs in now.")
        var invite: String?

        @Option(help: "The account to log in to.")
        var account: String?

        @Option(help: "What this device is: pc, mobile, tv, web or server.")
        var type = "pc"

        @Option(help: "A name for this device, shown to your other devices.")
        var name = ProcessInfo.processInfo.hostName

        @Option(help: ArgumentHelp("Read the password from the first line of this file.", valueName: "file"))
        var passwordFile: String?

        func validate() throws {
            guard TerminalType(name: type) != nil else { throw ValidationError("--type is one of pc, mobile, tv, web, server") }
            guard let invite else {
                guard account == nil else { throw ValidationError("--account needs the server's invite: kith login INVITE --account ACCOUNT") }
                return
            }
            guard account != nil else { throw ValidationError("name the account: kith login INVITE --account ACCOUNT") }
            do { _ = try Invite(parsing: invite) } catch { throw ValidationError("\(error)") }
        }

        func run() throws {
            guard let invite, let account else { return try signInEverywhere() }
            let password = try readPassword(file: passwordFile, prompt: "Password for \(account): ")
            let result = try options.client.call(LoginRequest(
                invite: invite, account: account, password: password, type: type, name: name))
            options.output(result) {
                Console.line("logged in to \(result.account) as \(result.deviceID)")
                switch result.role {
                case "primary"?: Console.line("this device is the account's primary: it approves the others")
                case "pending"?:
                    Console.line("this device waits for approval: on the primary, check that `kith devices --pending` shows "
                                 + "the fingerprint \(result.fingerprint ?? "?") for \(result.deviceID), then `kith approve \(result.deviceID)`")
                default: break
                }
                if let key = result.recoveryKey { showRecoveryKey(key) }
            }
        }

        /// `kith login` alone: every network of the profile signs in now; each one's state is
        /// shown, and the command fails when one did not sign in.
        private func signInEverywhere() throws {
            let result = try options.client.call(NetworksLoginRequest())
            options.output(result) {
                for entry in result.networks { Console.line(Kith.Networks.line(entry)) }
            }
            let missing = result.networks.filter { $0.state != "online" }
            guard !missing.isEmpty else { return }
            let message = "\(missing.count) of \(result.networks.count) networks did not sign in: "
                + missing.map { "\($0.address) (\($0.problem ?? $0.state))" }.joined(separator: "; ")
            // With --json the list above is the one document on stdout; the status says it failed.
            guard options.json else { throw UserError(message) }
            FileHandle.standardError.write(Data("Error: \(message.printable)\n".utf8))
            throw ExitCode(1)
        }
    }

    struct Signup: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "signup",
            abstract: "Create an account on a server that allows it (started with --open-signup).",
            discussion: "Then log in with `kith login`. The password is read from --password-file, standard input or a prompt.")

        @OptionGroup var options: ProfileClientOptions

        @Argument(help: "The server's invite, kith://HOST:PORT/#KEY.")
        var invite: String

        @Option(help: "The account name to create: a-z, 0-9, '.', '_'.")
        var account: String

        @Option(help: ArgumentHelp("Read the password from the first line of this file.", valueName: "file"))
        var passwordFile: String?

        func validate() throws {
            if let problem = AccountRules.problem(withName: account) { throw ValidationError(problem) }
            do { _ = try Invite(parsing: invite) } catch { throw ValidationError("\(error)") }
        }

        func run() throws {
            let password = try readPassword(file: passwordFile, prompt: "New password for \(account): ")
            if let problem = AccountRules.problem(withPassword: password) { throw fail(problem) }
            let result = try options.client.call(SignupRequest(invite: invite, account: account, password: password))
            options.output(result) { Console.line("created account \(account); now `kith login`") }
        }
    }

    struct Logout: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "logout", abstract: "End this device's session and revoke its token.")
        @OptionGroup var options: ClientOptions

        func run() throws {
            let result = try options.client.call(LogoutRequest())
            options.output(result) { Console.line("logged out") }
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "status", abstract: "Show the agent, its server, and this device's session.")
        @OptionGroup var options: ClientOptions

        @Flag(help: "Also show the path to each of your other devices, and why it is relayed when it is.")
        var paths = false

        func run() throws {
            if paths { return try showPaths() }
            guard ProcessLock.holder(options.paths.lock) != nil || FileManager.default.fileExists(atPath: options.paths.socket.path) else {
                return try showStopped()
            }
            let s = try options.client.call(StatusRequest())
            options.output(s) {
                Console.line("agent:    running (pid \(s.pid), kith \(s.agentVersion)), profile \(s.profile)")
                Console.line("device:   \(s.deviceID ?? "not logged in")  key \(s.fingerprint)")
                if let role = s.role { Console.line("role:     \(role)\(s.roster.map { " in \($0)" } ?? "")") }
                if let account = s.account { Console.line("account:  \(account)") }
                // Which instance, unless the invite names only that one.
                let to = s.instance.flatMap { s.server?.hasPrefix("kith://\($0)/") == true ? nil : " to \($0)" } ?? ""
                Console.line("server:   \(s.server ?? "none")  \(s.connected ? "connected" + to : "not connected")")
                if s.pendingNotes > 0 { Console.line("outbox:   \(s.pendingNotes) item(s) waiting for the server") }
                if s.heldNotices > 0 { Console.line("held:     \(s.heldNotices) viewed-notice(s) waiting for their messages") }
                if let refused = s.refusedFromContacts, refused > 0 {
                    Console.line("refused:  \(refused) message(s) or roster(s) from contacts' devices their roster does not approve; see the log and `kith contacts`")
                }
                if let error = s.lastError { Console.line("problem:  \(error)") }
                if let accounts = s.accounts, accounts.count > 1 {
                    let listed = accounts.enumerated().map { index, a in
                        "\(a.account) on \(a.server.flatMap { try? Invite(parsing: $0) }.map { "\($0.host):\($0.port)" } ?? "?")"
                            + " (\(a.connected ? "connected" : "not connected")\(index == 0 ? ", default" : ""))"
                    }
                    Console.line("accounts: \(listed.joined(separator: "; ")); --account NAME picks one")
                }
            }
        }

        /// No agent runs for the profile: what its store says, and how to start it (exit status 3).
        private func showStopped() throws {
            let paths = options.paths
            guard FileManager.default.fileExists(atPath: paths.store.path) else {
                throw fail(AgentClient.noAgent(paths), status: ExitStatus.agentNotRunning)
            }
            let store = try AgentStore(path: paths.store.path)
            let session = try store.session()
            let notRunning = fail("no agent is running for profile \(paths.profile)", status: ExitStatus.agentNotRunning)
            let stopped = StoppedStatus(profile: paths.profile, running: false, account: session?.account, deviceID: session?.deviceID,
                                        server: try store.invite(), log: paths.log.path,
                                        start: "kith agent --profile \(paths.profile)",
                                        error: .init(code: notRunning.code, message: notRunning.message))
            options.output(stopped) {
                Console.line("agent:    not running for profile \(paths.profile); start it with `\(stopped.start)`")
                Console.line("device:   \(session.map { "\($0.deviceID) of \($0.account)" } ?? "not logged in")")
                Console.line("server:   \(stopped.server ?? "none")")
                Console.line("log:      \(stopped.log)")
            }
            throw ExitCode(ExitStatus.agentNotRunning)
        }

        /// `kith status --json` when no agent runs: what the store says, and `error` as any
        /// failure's (`agentNotRunning`), so a script checks one key.
        struct StoppedStatus: Encodable {
            var profile: String
            var running: Bool
            var account: String?
            var deviceID: String?
            var server: String?
            var log: String
            var start: String
            var error: CLIError.Body.Detail
        }

        private func showPaths() throws {
            let result = try options.client.call(DevicesRequest())
            options.output(result.devices.filter { !$0.isThisDevice }) {
                for device in result.devices where !device.isThisDevice {
                    Console.line("\(device.id.printable)  \(device.path)\(device.rttMillis.map { String(format: " %.1f ms", $0) } ?? "")"
                                 + "  \(device.pathDetail ?? "")")
                }
            }
        }
    }
}
