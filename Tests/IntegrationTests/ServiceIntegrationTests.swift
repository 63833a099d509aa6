import Foundation
import KithAPI
import KithCrypto
import KithTestSupport
import Testing

/// The agent and the server as services people leave running: the CLI finds the agent the same
/// way from any session, an unknown profile is named as such, `status` without an agent says what
/// it knows, and a second server on one data folder refuses to start.
@Suite(.serialized, .fewAtATime) struct ServiceIntegrationTests {
    @Test func theCLIFindsTheAgentWithAndWithoutXDGRuntimeDir() async throws {
        let root = temporaryDirectory("xdg")
        let data = root.appendingPathComponent("data").path
        let runtime = root.appendingPathComponent("run").path
        try FileManager.default.createDirectory(atPath: runtime, withIntermediateDirectories: true)
        // Started from a desktop session (XDG_RUNTIME_DIR set), asked from ssh or cron (not set), and the other way round.
        for (agentRuntime, cliRuntime) in [(runtime, ""), ("", runtime)] {
            let agent = try KithProcess(["agent", "--profile", "laptop", "--foreground", "--udp", "off", "--no-lan-discovery"],
                                        in: root, name: "agent", environment: ["XDG_DATA_HOME": data, "XDG_RUNTIME_DIR": agentRuntime])
            _ = try await agent.waitForLine(startingWith: "agent running")
            let status = try KithProcess.run(["status", "--profile", "laptop", "--json"],
                                             environment: ["XDG_DATA_HOME": data, "XDG_RUNTIME_DIR": cliRuntime])
            #expect(status.status == 0, "\(status.stderr)")
            #expect(try JSONDecoder().decode(StatusResult.self, from: Data(status.stdout.utf8)).profile == "laptop")
            #expect(agent.terminate() == 0)
        }
        // A profile that does not exist is named as such, with the ones that do.
        let unknown = try KithProcess.run(["devices", "--profile", "laptpo"], environment: ["XDG_DATA_HOME": data])
        #expect(unknown.status == 3)
        #expect(unknown.stderr.contains("there is no profile laptpo (profiles here: laptop)"), "\(unknown.stderr)")
        // `status` with no agent running: what the profile's store knows, and how to start it.
        let stopped = try KithProcess.run(["status", "--profile", "laptop"], environment: ["XDG_DATA_HOME": data])
        #expect(stopped.status == 3)
        #expect(stopped.stdout.contains("not running for profile laptop; start it with `kith agent --profile laptop`"), "\(stopped.stdout)")
        #expect(stopped.stdout.contains("log:      \(data)/kith/laptop/agent.log"))
    }

    @Test func aServerWhoseKeyIsNotTheInvitesIsReportedAsSuch() async throws {
        let server = try await ServerHarness.start()
        let agent = AgentHarness("laptop", root: temporaryDirectory("wrong-key"))
        try await agent.start()
        let wrong = "kith://127.0.0.1:\(server.invite.port)/#" + DeviceIdentity.generate().publicKey.rawValue.hexString
        do {
            _ = try agent.cli(["login", wrong, "--account", "alice"], as: LoginResultAPI.self, stdin: "correct horse\n")
            Issue.record("a login went through to a server with another key")
        } catch let failure as AgentHarness.CLIFailure {
            #expect(failure.message.contains("does not have the key in the invite"), "\(failure.message)")
        }
        _ = try agent.login(server)  // the right invite works
    }

    @Test func theOperatorListsChangesAndRemovesAccounts() async throws {
        let server = try await ServerHarness.start(accounts: ["alice": "correct horse", "bob": "battery staple"])
        let data = server.directory.path
        let list = try KithProcess.run(["server", "account", "list", "--data", data])
        #expect(list.status == 0 && list.stdout.contains("alice") && list.stdout.contains("bob"), "\(list.stdout)\(list.stderr)")
        // A new password: the old one no longer logs in, the new one does.
        #expect(try KithProcess.run(["server", "account", "passwd", "alice", "--data", data], stdin: "new horse staple\n").status == 0)
        let laptop = AgentHarness("laptop", root: temporaryDirectory("accounts"))
        try await laptop.start()
        #expect(throws: AgentHarness.CLIFailure.self) { _ = try laptop.login(server, password: "correct horse") }
        _ = try laptop.login(server, password: "new horse staple")
        // Nothing false: an unknown account, a removal without --yes off a terminal.
        let unknown = try KithProcess.run(["server", "account", "passwd", "carol", "--data", data], stdin: "whatever123\n")
        #expect(unknown.status == 1 && unknown.stderr.contains("there is no account carol"))
        let unasked = try KithProcess.run(["server", "account", "remove", "bob", "--data", data])
        #expect(unasked.status == 1 && unasked.stderr.contains("needs --yes"))
        #expect(try KithProcess.run(["server", "account", "list", "--data", data]).stdout.contains("bob"))
        let removed = try KithProcess.run(["server", "account", "remove", "bob", "--yes", "--data", data])
        #expect(removed.status == 0 && removed.stdout.contains("removed bob"))
        #expect(try !KithProcess.run(["server", "account", "list", "--data", data]).stdout.contains("bob"))
        let bob = AgentHarness("bob", root: temporaryDirectory("accounts-bob"))
        try await bob.start()
        #expect(throws: AgentHarness.CLIFailure.self) { _ = try bob.login(server, account: "bob", password: "battery staple") }
    }

    @Test func theInviteNamesTheAdvertisedAddress() async throws {
        let data = temporaryDirectory("advertise")
        let server = try KithProcess(["server", "--data", data.path, "--listen", "127.0.0.1:0", "--advertise", "kith.example.net"],
                                     in: data, name: "server")
        let listening = try await server.waitForLine(startingWith: "kith server ")
        let port = try #require(listening.split(separator: ":").last.flatMap { Int($0) })
        let invite = try await server.waitForLine(startingWith: "invite: ")
        #expect(invite.hasPrefix("kith://kith.example.net:\(port)/#"), "\(invite)")
        #expect(server.terminate() == 0)
        let forwarded = try KithProcess(["server", "--data", data.path, "--listen", "127.0.0.1:0", "--advertise", "203.0.113.9:7999"],
                                        in: data, name: "server2")
        #expect(try await forwarded.waitForLine(startingWith: "invite: ").hasPrefix("kith://203.0.113.9:7999/#"))
    }

    @Test func theSystemdUnitsVerify() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze") else {
            print("systemd-analyze is not installed: the unit files were not verified")
            return
        }
        let folder = temporaryDirectory("units")
        func verify(_ name: String, _ text: String) throws -> (status: Int32, output: String) {
            let file = folder.appendingPathComponent(name)
            try Data(text.utf8).write(to: file)
            let result = try Program.run("systemd-analyze", ["verify", file.path], timeout: 60)
            return (result.status, result.stdout + result.stderr)
        }
        let agent = try KithProcess.run(["agent", "install", "--print"])
        let server = try KithProcess.run(["server", "install", "--print", "--data", "/var/lib/kith", "--listen", "0.0.0.0:7400",
                                          "--advertise", "kith.example.net"])
        #expect(agent.status == 0 && server.status == 0)
        #expect(agent.stdout.contains("ExecStart=\(KithProcess.executable.resolvingSymlinksInPath().path) agent --profile %i --foreground"))
        for (name, text) in [("kith-agent@.service", agent.stdout), ("kith-server.service", server.stdout)] {
            let result = try verify(name, text)
            #expect(result.status == 0, "\(name): \(result.output)")
        }
        // The check can fail: a unit whose command is not an absolute path does not verify.
        let broken = try verify("kith-broken.service", agent.stdout.replacingOccurrences(of: "ExecStart=/", with: "ExecStart="))
        #expect(broken.status != 0)
    }

    /// `kith agent install` writes the user unit and completions for bash, zsh and fish under the
    /// user's home; bash itself takes the bash script, and it completes `kith ag` to `agent`.
    @Test func theInstallStepWritesCompletions() throws {
        let home = temporaryDirectory("install-home")
        let result = try KithProcess.run(["agent", "install"], environment: ["HOME": home.path])
        #expect(result.status == 0, "\(result.stderr)")
        let bash = home.appendingPathComponent(".local/share/bash-completion/completions/kith")
        for path in [".config/systemd/user/kith-agent@.service", ".local/share/bash-completion/completions/kith",
                     ".local/share/zsh/site-functions/_kith", ".config/fish/completions/kith.fish"] {
            #expect(FileManager.default.fileExists(atPath: home.appendingPathComponent(path).path), "\(path) not written")
        }
        let replies = try Program.run(URL(fileURLWithPath: "/bin/bash"), ["-c", """
            source '\(bash.path)' && COMP_WORDS=(kith ag) && COMP_CWORD=1 && COMP_LINE='kith ag' && COMP_POINT=7 \
            && _kith 2>/dev/null; printf '%s\\n' "${COMPREPLY[@]}"
            """], timeout: 30).stdout
        #expect(replies.split(separator: "\n").contains("agent"), "bash completed `kith ag` to: \(replies)")
    }

    @Test func agentStopAndRestart() async throws {
        let profile = temporaryDirectory("stop").appendingPathComponent("laptop").path
        let options = ["--udp", "off", "--no-lan-discovery"]
        #expect(try KithProcess.run(["agent", "--profile", profile] + options).status == 0)
        let restarted = try KithProcess.run(["agent", "restart", "--profile", profile, "--"] + options)
        #expect(restarted.status == 0 && restarted.stdout.contains("agent started"), "\(restarted.stderr)")
        let stopped = try KithProcess.run(["agent", "stop", "--profile", profile])
        #expect(stopped.status == 0 && stopped.stdout.contains("stopped the agent"), "\(stopped.stderr)")
        #expect(!FileManager.default.fileExists(atPath: profile + "/agent.sock"))
        let again = try KithProcess.run(["agent", "stop", "--profile", profile])
        #expect(again.status == 3 && again.stderr.contains("no agent is running"), "nothing to stop is said, not reported done")
    }

    @Test func nothingFalseForAnEmptyNoteOrAContactThatIsNone() async throws {
        let server = try await ServerHarness.start()
        let alice = AgentHarness("alice", root: temporaryDirectory("nothing-false"))
        try await alice.start()
        _ = try alice.login(server)
        let empty = try KithProcess.run(["send", "bob", "  ", "--profile", alice.profile.path])
        #expect(empty.status == 1 && empty.stderr.contains("the text is empty: nothing was sent"), "\(empty.stderr)")
        #expect(try alice.cli(["status"], as: StatusResult.self).pendingNotes == 0, "nothing was queued")
        let none = try KithProcess.run(["contacts", "remove", "bob", "--profile", alice.profile.path])
        #expect(none.status == 1 && none.stderr.contains("bob is not a contact, nor a request either way"), "\(none.stderr)")
        _ = try alice.cli(["contacts", "add", "bob"], as: EmptyResult.self)
        try await alice.eventually("the request to show") { try alice.cli(["contacts"], as: ContactsResult.self).contacts.count == 1 }
        let withdrawn = try KithProcess.run(["contacts", "remove", "bob", "--profile", alice.profile.path])
        #expect(withdrawn.status == 0, "an open request is withdrawn: \(withdrawn.stderr)")
    }

    @Test func aSecondServerOnOneDataFolderRefusesToStart() async throws {
        let server = try await ServerHarness.start()
        let second = try KithProcess.run(["server", "--data", server.directory.path, "--listen", "127.0.0.1:0"])
        #expect(second.status == 1)
        #expect(second.stderr.contains("another kith server is running on \(server.directory.path) (pid \(server.process.process.processIdentifier))"),
                "\(second.stderr)")
        // The first still serves.
        let connection = try await TestDevice().connect(server)
        #expect(try await connection.request(.ping(.init(nonce: 7))).message == .pong(.init(nonce: 7)))
        await connection.close()
    }
}

/// Two copies of one device (spec §Sessions, One session per device): a profile folder copied and
/// started beside the original. The server keeps one session and tells the other why; that copy
/// says so in `kith status` and stays off, so what the device receives does not split.
@Suite(.serialized, .fewAtATime) struct CopiedProfileIntegrationTests {
    @Test func aCopiedProfileIsDetectedAndDeliveriesDoNotSplit() async throws {
        let (server, laptop, phone) = try await DirectPathIntegrationTests.laptopAndPhone("copied-profile", udp: "off")
        let root = laptop.profile.deletingLastPathComponent()
        #expect(laptop.terminate() == 0)
        try FileManager.default.copyItem(at: laptop.profile, to: root.appendingPathComponent("laptop-copy"))
        let copy = AgentHarness("laptop-copy", root: root, udp: "off")
        try await laptop.start()
        try await laptop.eventually("the original to be connected") { try laptop.cli(["status"], as: StatusResult.self).connected }
        try await copy.start()
        try await laptop.eventually("the original to say that another copy took its session") {
            try laptop.cli(["status"], as: StatusResult.self).lastError?.contains("another copy of this device") == true
        }
        try await copy.eventually("the copy to hold the session") { try copy.cli(["status"], as: StatusResult.self).connected }
        #expect(server.log.contains("while connected from"))

        for n in 0..<20 { _ = try phone.cli(["send", "alice-PC-1", "note \(n)"], as: SendResult.self) }
        try await copy.eventually("all twenty notes at the copy that holds the session") { try copy.inbox().count == 20 }
        #expect(try laptop.inbox().isEmpty, "the held copy took none of them")
        #expect(try !laptop.cli(["status"], as: StatusResult.self).connected, "the held copy did not come back on its own")
        withExtendedLifetime(server) {}
    }
}
