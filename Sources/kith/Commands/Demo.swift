import KithAPI
import ArgumentParser
import Foundation
import KithAgent
#if canImport(Glibc)
import Glibc
#endif

extension Kith {
    /// The local demo: everything real, on loopback, in a temporary directory.
    struct Demo: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "demo",
            abstract: "Run the local demo: a server, agents, notes, and a message read on one device and viewed on all.",
            discussion: """
                Starts `kith server` and three `kith agent` processes (alice's laptop and phone, \
                bob's desktop) in a temporary directory, on loopback and the embedded SQLite store; \
                logs the devices in, shows alice's device lists, sends a note each way between her \
                devices, makes alice and bob contacts (with their safety code), has bob write to alice, reads it on the \
                laptop and shows the phone turn it viewed; then shuts everything down.
                """
        )

        @Flag(help: "Keep the temporary directory (profiles, stores, logs) afterwards.")
        var keep = false

        func run() throws {
            let root = FileManager.default.temporaryDirectory.appendingPathComponent("kith-demo-\(getpid())")
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
            var children: [Process] = []
            defer {
                for child in children where child.isRunning { child.terminate() }
                for child in children { child.waitUntilExit() }
                if !keep { try? FileManager.default.removeItem(at: root) }
            }
            let serverData = root.appendingPathComponent("server")
            Console.line("== Kith demo in \(root.path): one server, three agents, embedded SQLite")

            try step("create the accounts alice, bob and alice.work (operator command)") {
                try runSelf(["server", "account", "add", "alice", "--data", serverData.path], stdin: "correct horse\n")
                try runSelf(["server", "account", "add", "bob", "--data", serverData.path], stdin: "battery staple\n")
                try runSelf(["server", "account", "add", "alice.work", "--data", serverData.path], stdin: "work horse\n")
            }
            let serverOutput = root.appendingPathComponent("server.out")
            children.append(try spawnSelf(["server", "--data", serverData.path, "--listen", "127.0.0.1:0"],
                                          output: serverOutput, errors: root.appendingPathComponent("server.log")))
            let invite = try waitForLine(in: serverOutput, prefix: "invite: ")
            Console.line("server:  \(invite)")

            let profiles = [("laptop", "pc"), ("phone", "mobile")]
            for (name, _) in profiles {
                let profile = root.appendingPathComponent(name).path
                children.append(try spawnSelf(["agent", "--profile", profile, "--foreground", "--udp", "127.0.0.1:0", "--no-lan-discovery",
                                               "--receive-dir", root.appendingPathComponent("\(name)-received").path],
                                              output: root.appendingPathComponent("\(name).out"),
                                              errors: root.appendingPathComponent("\(name).err")))
            }
            var ids: [String: String] = [:]
            for (name, type) in profiles {
                let client = AgentClient(paths: AgentPaths(profile: root.appendingPathComponent(name).path))
                try waitForAgent(client)
                let login = try client.call(LoginRequest(invite: invite, account: "alice",
                                                                       password: "correct horse", type: type, name: name))
                ids[name] = login.deviceID
                Console.line("login:   the \(name) is \(login.deviceID) (\(login.role ?? "?"))")
                if login.role == "pending" {
                    // In real life: compare the fingerprint the new device shows with the primary's list first.
                    let primary = AgentClient(paths: AgentPaths(profile: root.appendingPathComponent(profiles[0].0).path))
                    let roster = try primary.call(ApproveDeviceRequest(to: login.deviceID))
                    Console.line("approve: the \(profiles[0].0) (primary) approved \(login.deviceID) (key \(login.fingerprint ?? "?")): \(roster.roster ?? "")")
                    _ = try waitFor("the \(name) to take the roster") {
                        let status = try client.call(StatusRequest())
                        return status.role == "secondary" ? status : nil
                    }
                }
            }
            for (name, _) in profiles {
                let client = AgentClient(paths: AgentPaths(profile: root.appendingPathComponent(name).path))
                let list = try waitFor("both devices online in the \(name)'s list, on a direct path") {
                    let result = try client.call(DevicesRequest())
                    return result.devices.count == 2 && result.devices.allSatisfy { $0.online && $0.path != "relay" } ? result : nil
                }
                Console.line("devices as the \(name) sees them:")
                for device in list.devices {
                    let rtt = device.rttMillis.map { String(format: " %.1f ms", $0) } ?? ""
                    Console.line("  \(device.isThisDevice ? "*" : " ") \(device.id)  \(device.name)  \(device.type)  "
                                 + "\(device.online ? "online" : "offline")  \(device.path)\(rtt)  \(device.fingerprint)")
                }
            }
            for (from, to) in [("laptop", "phone"), ("phone", "laptop")] {
                let sender = AgentClient(paths: AgentPaths(profile: root.appendingPathComponent(from).path))
                let receiver = AgentClient(paths: AgentPaths(profile: root.appendingPathComponent(to).path))
                let text = "hello from the \(from)"
                _ = try sender.call(SendRequest(to: ids[to]!, text: text))
                let note = try waitFor("the note to reach the \(to)") {
                    try receiver.call(InboxRequest()).notes.first { $0.text == text }
                }
                Console.line("note:    \(note.from) → \(note.to): \"\(note.text)\" (end-to-end encrypted, directly over UDP)")
            }
            try pushAFile(root: root, to: ids["phone"]!)
            try readStateFollowsThePerson(root: root, invite: invite, children: &children)
            try aLinkedAccountsPage(root: root)
            Console.line("shutdown: stopping the agents and the server")
            Console.line("demo: ok")
        }

        /// The laptop pushes a folder to the phone, asking for direct receive: it lands without a prompt.
        private func pushAFile(root: URL, to phoneID: String) throws {
            let folder = root.appendingPathComponent("Holiday")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            var bytes = [UInt8](repeating: 0, count: 8 << 20)
            for i in bytes.indices { bytes[i] = UInt8(truncatingIfNeeded: i &* 2_654_435_761 >> 13) }
            try Data(bytes).write(to: folder.appendingPathComponent("photo.raw"))
            try Data("sunny\n".utf8).write(to: folder.appendingPathComponent("notes.txt"))
            let laptop = AgentClient(paths: AgentPaths(profile: root.appendingPathComponent("laptop").path))
            let started = try laptop.call(PushRequest(to: phoneID, paths: [folder.path], receive: "direct"))
            let done = try waitFor("the push to complete") {
                let info = try laptop.call(TransferRequest(id: started.id))
                if ["rejected", "expired", "failed", "cancelled"].contains(info.state) {
                    throw fail("the push ended \(info.state): \(info.reason ?? "")")
                }
                return info.state == "complete" ? info : nil
            }
            let landed = root.appendingPathComponent("phone-received/Holiday/photo.raw")
            guard (try? Data(contentsOf: landed)) == Data(bytes) else { throw fail("the pushed file differs") }
            Console.line("push:    laptop → phone: Holiday/ (\(done.files) files, \(done.totalBytes) bytes), landed in "
                         + "phone-received/Holiday without a prompt, every chunk (Poly1305 tags) and the whole file (BLAKE2b) verified")
        }

        /// bob (a contact) writes to alice; she reads it on the laptop, and the phone turns it viewed.
        private func readStateFollowsThePerson(root: URL, invite: String, children: inout [Process]) throws {
            let profile = root.appendingPathComponent("bob").path
            children.append(try spawnSelf(["agent", "--profile", profile, "--foreground", "--udp", "127.0.0.1:0", "--no-lan-discovery"], output: root.appendingPathComponent("bob.out"),
                                          errors: root.appendingPathComponent("bob.err")))
            let bob = AgentClient(paths: AgentPaths(profile: profile))
            let laptop = AgentClient(paths: AgentPaths(profile: root.appendingPathComponent("laptop").path))
            let phone = AgentClient(paths: AgentPaths(profile: root.appendingPathComponent("phone").path))
            try waitForAgent(bob)
            let login = try bob.call(LoginRequest(invite: invite, account: "bob", password: "battery staple",
                                                                name: "bob's desktop"))
            Console.line("login:   bob's desktop is \(login.deviceID)")
            _ = try laptop.call(ContactAddRequest(contact: "bob"))
            _ = try waitFor("alice's request to reach bob") {
                try bob.call(ContactsRequest()).contacts.first { $0.state == "incoming" }
            }
            _ = try bob.call(ContactAcceptRequest(contact: "alice"))
            _ = try waitFor("alice's roster in bob's contacts") {
                try bob.call(ContactsRequest()).contacts.first { $0.approvedDevices?.count == 2 }
            }
            _ = try waitFor("bob's roster in the laptop's contacts") {
                try laptop.call(ContactsRequest()).contacts.first { $0.approvedDevices?.isEmpty == false }
            }
            Console.line("contact: alice asked bob, bob accepted; each device pinned the other account's roster")
            let aliceSees = try laptop.call(ContactVerifyRequest(contact: "bob"))
            let bobSees = try bob.call(ContactVerifyRequest(contact: "alice"))
            Console.line("safety:  alice's laptop shows \(aliceSees.code) for bob")
            Console.line("         bob's desktop shows  \(bobSees.code) for alice"
                         + (aliceSees.code == bobSees.code ? " (the same: compare it to verify)" : " — THEY DIFFER"))
            let sent = try bob.call(SendRequest(to: "alice", text: "lunch at noon?"))
            Console.line("message: bob → alice: \"lunch at noon?\", one sealed copy for each of \((sent.devices ?? []).joined(separator: ", "))")
            for (name, client) in [("laptop", laptop), ("phone", phone)] {
                let unread = try waitFor("the message to reach the \(name)") {
                    try client.call(InboxRequest()).unread["bob"]
                }
                Console.line("unread:  the \(name) shows \(unread) unread from bob")
            }
            let code = try laptop.call(InboxRequest()).messages[0].code
            _ = try laptop.call(ReadRequest(code: code))
            Console.line("read:    message \(code) opened on the laptop")
            let viewed = try waitFor("the phone to turn it viewed") {
                try phone.call(InboxRequest()).messages.first { $0.viewed }
            }
            Console.line("viewed:  the phone shows message \(viewed.code) viewed on \(viewed.viewedBy ?? "?"), 0 unread, "
                         + "without being opened there")
        }

        /// alice links her work account under her own: the laptop holds it as a page on the one
        /// connection it has, and bob's message to alice.work shows there, counted apart.
        private func aLinkedAccountsPage(root: URL) throws {
            let laptop = AgentClient(paths: AgentPaths(profile: root.appendingPathComponent("laptop").path))
            var workPage = laptop
            workPage.account = "alice.work"
            let bob = AgentClient(paths: AgentPaths(profile: root.appendingPathComponent("bob").path))
            let linked = try laptop.call(AccountLinkRequest(account: "alice.work", password: "work horse"))
            Console.line("link:    alice linked alice.work (its password checked by the server); alice.work had no device, so the "
                         + "laptop is its primary" + (linked.recoveryKey == nil ? "" : ", with a new recovery key for alice.work"))
            _ = try bob.call(ContactAddRequest(contact: "alice.work"))
            _ = try waitFor("bob's request on the laptop's alice.work page") {
                try workPage.call(ContactsRequest()).contacts.first { $0.state == "incoming" }
            }
            _ = try workPage.call(ContactAcceptRequest(contact: "bob"))
            _ = try waitFor("alice.work's roster in bob's contacts") {
                try bob.call(ContactsRequest()).contacts.first { $0.account == "alice.work" && $0.approvedDevices?.isEmpty == false }
            }
            _ = try bob.call(SendRequest(to: "alice.work", text: "the report is in"))
            let accounts = try waitFor("the message on the alice.work page") {
                let accounts = try laptop.call(AccountsRequest()).accounts
                return accounts.first { $0.account == "alice.work" }?.unreadTotal == 1 ? accounts : nil
            }
            for account in accounts {
                Console.line("page:    \(Accounts.line(account))")
            }
            Console.line("         (one server connection carries both pages; bob's message sits on alice.work's, not alice's)")
        }

        private func step(_ what: String, _ body: () throws -> Void) throws {
            try body()
            Console.line("done:    \(what)")
        }

        private static var executable: String { URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path }

        private func runSelf(_ arguments: [String], stdin: String) throws {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Self.executable)
            process.arguments = arguments
            let input = Pipe()
            process.standardInput = input
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            input.fileHandleForWriting.write(Data(stdin.utf8))
            try input.fileHandleForWriting.close()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else { throw fail("`kith \(arguments.joined(separator: " "))` failed") }
        }

        private func spawnSelf(_ arguments: [String], output: URL, errors: URL) throws -> Process {
            _ = FileManager.default.createFile(atPath: output.path, contents: nil)
            _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Self.executable)
            process.arguments = arguments
            process.standardOutput = try FileHandle(forWritingTo: output)
            process.standardError = try FileHandle(forWritingTo: errors)
            try process.run()
            return process
        }

        private func waitForLine(in file: URL, prefix: String) throws -> String {
            try waitFor("a line starting with \(prefix) in \(file.lastPathComponent)") {
                ((try? String(contentsOf: file, encoding: .utf8)) ?? "").split(separator: "\n")
                    .first { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
            }
        }

        private func waitForAgent(_ client: AgentClient) throws {
            _ = try waitFor("the agent to start") {
                try? client.call(StatusRequest(), timeout: 2)
            }
        }

        /// Polls `body` every 50 ms for up to 15 s until it returns a value.
        private func waitFor<T>(_ what: String, _ body: () throws -> T?) throws -> T {
            for _ in 0..<300 {
                if let value = try body() { return value }
                usleep(50_000)
            }
            throw fail("timed out waiting for \(what)")
        }
    }
}
