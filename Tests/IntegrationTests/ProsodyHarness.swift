import Foundation
import KithTestSupport
import KithXMPP
#if canImport(Glibc)
import Glibc
#endif

/// A private Prosody (XMPP server) for tests: its own config, data and log in a temporary
/// directory, listening on one loopback port only, with accounts registered before it starts.
/// Killed when the test is done with it, so no Prosody outlives a test. Debian's `prosody` (0.12)
/// runs it; Tools/bootstrap installs it, and tests skip where it is missing:
/// `@Suite(.enabled(if: ProsodyHarness.isInstalled, "needs Prosody (/usr/bin/prosody): run Tools/bootstrap"))`.
final class ProsodyHarness: @unchecked Sendable {
    static let binary = URL(fileURLWithPath: "/usr/bin/prosody")
    static let controlBinary = URL(fileURLWithPath: "/usr/bin/prosodyctl")

    /// Whether Prosody is installed where Debian puts it.
    static var isInstalled: Bool {
        FileManager.default.isExecutableFile(atPath: binary.path) && FileManager.default.isExecutableFile(atPath: controlBinary.path)
    }

    let port: Int
    let domain: String
    let directory: URL
    let configFile: URL
    /// Prosody's own log (info and above); its stdout and stderr are `prosody.out` and `prosody.err` beside it.
    let logFile: URL
    private let process: KithProcess

    /// The SHA-256 of the test certificate, when the server was started with `tls`.
    private(set) var certificate: CertificateFingerprint?

    /// `accounts` maps names (the local part of the JID) to passwords; all are on `domain`. With
    /// `tls`, the server has a fresh self-signed certificate for `domain` (made with `openssl`),
    /// offers STARTTLS and requires it before authentication.
    static func start(accounts: [String: String] = ["alice": "correct horse", "bob": "battery staple"],
                      domain: String = "kith.test", tls: Bool = false) async throws -> ProsodyHarness {
        guard isInstalled else {
            throw KithProcess.ProcessFailure(description: "Prosody is not installed (\(binary.path)); run Tools/bootstrap")
        }
        let directory = temporaryDirectory("prosody")
        let configFile = directory.appendingPathComponent("prosody.cfg.lua")
        let logFile = directory.appendingPathComponent("prosody.log")
        // The admin socket (for `prosodyctl shell`) is made in the data directory, and Prosody does
        // not create the directory for it; an empty certificate directory keeps Prosody from logging
        // an error for the default one (`certs` beside the config), which does not exist.
        for name in ["data", "certs"] {
            try FileManager.default.createDirectory(at: directory.appendingPathComponent(name), withIntermediateDirectories: true)
        }
        // A free port can be taken by someone else between our probe and Prosody's bind; Prosody then
        // keeps running without the listener (and a connect would reach the other program), so its log
        // is what tells, and a fresh port is tried.
        let certificate = tls ? try makeCertificate(domain: domain, in: directory.appendingPathComponent("certs")) : nil
        var failure = ""
        for attempt in 1...3 {
            let port = try freeLoopbackPort()
            try config(port: port, domain: domain, directory: directory, tls: tls).write(to: configFile, atomically: true, encoding: .utf8)
            try? FileManager.default.removeItem(at: logFile)
            if attempt == 1 {
                for (name, password) in accounts.sorted(by: { $0.key < $1.key }) {
                    _ = try control(["register", name, domain, password], configFile: configFile)
                }
            }
            let process = try KithProcess(["--config", configFile.path, "-F"], in: directory, name: "prosody", executable: binary)
            let harness = ProsodyHarness(port: port, domain: domain, directory: directory, configFile: configFile,
                                         logFile: logFile, process: process)
            harness.certificate = certificate
            switch try await harness.waitUntilListening() {
            case .listening: return harness
            case .portTaken:
                failure = "port \(port) was taken before Prosody could bind it"
                harness.process.kill()
            }
        }
        throw KithProcess.ProcessFailure(description: "Prosody did not start after 3 ports; last: \(failure)")
    }

    private init(port: Int, domain: String, directory: URL, configFile: URL, logFile: URL, process: KithProcess) {
        self.port = port
        self.domain = domain
        self.directory = directory
        self.configFile = configFile
        self.logFile = logFile
        self.process = process
    }

    /// The config of a loopback-only server for tests (see PLATFORM-NOTES.md, "XMPP (Prosody) for
    /// tests"). Without `tls`, mod_tls is not loaded, so STARTTLS is not offered, and plain SASL is
    /// allowed on the unencrypted stream; both SCRAM-SHA-1 and PLAIN are offered. With `tls`, the
    /// certificate from `makeCertificate` is served and encryption is required. `admin_shell` is
    /// loaded for `prosodyctl shell` (roster changes made "by the server", see `setRosterItem`).
    private static func config(port: Int, domain: String, directory: URL, tls: Bool) -> String {
        func path(_ name: String) -> String { lua(directory.appendingPathComponent(name).path) }
        let encryption = tls ? """
            c2s_require_encryption = true
            allow_unencrypted_plain_auth = false
            ssl = { certificate = \(path("certs/\(domain).crt")); key = \(path("certs/\(domain).key")) }
            """ : """
            c2s_require_encryption = false
            allow_unencrypted_plain_auth = true
            """
        return """
        -- Written by ProsodyHarness for one test.
        run_as_root = true -- as root (CI), Prosody refuses to start otherwise
        pidfile = \(path("prosody.pid"))
        data_path = \(path("data"))
        certificates = \(path("certs"))
        interfaces = { "127.0.0.1" }
        c2s_ports = { \(port) }
        c2s_direct_tls_ports = { }
        legacy_ssl_ports = { }
        s2s_ports = { }
        s2s_direct_tls_ports = { }
        http_ports = { }
        https_ports = { }
        authentication = "internal_hashed"
        storage = "internal"
        \(encryption)
        modules_enabled = { \(tls ? "\"tls\"; " : "")"roster"; "saslauth"; "disco"; "ping"; "presence"; "mam"; "carbons"; "admin_shell" }
        modules_disabled = { "s2s" }
        log = { info = \(path("prosody.log")) }

        VirtualHost \(lua(domain))

        """
    }

    private enum Start { case listening, portTaken }

    /// Waits (up to `timeout` seconds) until Prosody says it listens on `port` and a connection to it
    /// is accepted.
    private func waitUntilListening(timeout: TimeInterval = 10) async throws -> Start {
        let deadline = Date().addingTimeInterval(timeout)
        let activated = "Activated service 'c2s' on [127.0.0.1]:\(port)"
        // Checked once more after the deadline: on a loaded machine this task may not run for a
        // while, and a server that came up meanwhile still counts.
        var last = false
        while !last {
            last = Date() >= deadline
            guard process.process.isRunning else {
                throw KithProcess.ProcessFailure(description: """
                    Prosody exited (status \(process.process.terminationStatus)) before listening on 127.0.0.1:\(port); \
                    stdout: \(process.stdout); stderr: \(process.stderr)
                    log (\(logFile.path)):
                    \(logTail())
                    """)
            }
            let log = self.log
            if log.contains("Failed to open server port \(port) on") { return .portTaken }
            // The admin socket too: `prosodyctl shell` (setRosterItem) right after start found no
            // server once in CI, mod_admin_socket having loaded after c2s was listening.
            if log.contains(activated), (try? RawSocket(port: port)) != nil,
               FileManager.default.fileExists(atPath: directory.appendingPathComponent("data/prosody.sock").path) {
                return .listening
            }
            if !last { try await Task.sleep(for: .milliseconds(20)) }
        }
        process.kill()
        throw KithProcess.ProcessFailure(description: """
            Prosody did not listen on 127.0.0.1:\(port) within \(Int(timeout)) s; stdout: \(process.stdout); stderr: \(process.stderr)
            log (\(logFile.path)):
            \(logTail())
            """)
    }

    /// A self-signed P-256 certificate for `domain` (its name in the subject and the SAN), valid for
    /// two days, written as `DOMAIN.crt` and `DOMAIN.key` in `directory`. Returns its fingerprint.
    private static func makeCertificate(domain: String, in directory: URL) throws -> CertificateFingerprint {
        let certificate = directory.appendingPathComponent("\(domain).crt")
        let result = try Program.run(URL(fileURLWithPath: "/usr/bin/openssl"), [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", directory.appendingPathComponent("\(domain).key").path, "-out", certificate.path,
            "-days", "2", "-subj", "/CN=\(domain)", "-addext", "subjectAltName=DNS:\(domain)",
        ], timeout: 60)
        let pem = (try? String(contentsOf: certificate, encoding: .utf8)) ?? ""
        let base64 = pem.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        guard result.status == 0, let der = Data(base64Encoded: base64) else {
            throw KithProcess.ProcessFailure(description: "openssl could not make a test certificate (exit \(result.status)): \(result.stderr)")
        }
        return CertificateFingerprint(der: der)
    }

    /// Registers an account (`name@domain`); works while Prosody runs. An existing account's password
    /// is replaced: Prosody does not refuse it.
    func register(_ name: String, password: String) throws {
        _ = try prosodyctl(["register", name, domain, password])
    }

    /// Runs `prosodyctl --config CONFIG ARGS`; returns its stdout, throws (with its output) unless it
    /// exits 0.
    @discardableResult
    func prosodyctl(_ arguments: [String]) throws -> String {
        try Self.control(arguments, configFile: configFile)
    }

    /// Runs Lua in the running server (`prosodyctl shell ">CODE"`, through mod_admin_shell's socket):
    /// Prosody 0.12's shell has no roster commands, but its `>` prefix evaluates Lua in the server's
    /// global environment. Returns what the shell printed (`Result: …`); a Lua error throws.
    @discardableResult
    func shell(lua code: String) throws -> String {
        try prosodyctl(["shell", ">" + code])
    }

    /// Adds or replaces `contact` (a bare JID) in `owner`'s roster as the server would on another
    /// client's or an admin's change: saved (the roster version goes up by one) and pushed to
    /// `owner`'s sessions that fetched the roster (RFC 6121 §2.1.6). `owner` is a local name on
    /// `domain`. `ask`: an outbound subscription request is pending (`ask='subscribe'`).
    /// Beware Prosody 0.12's versions: a roster never saved is reported as ver='1', and its first
    /// save makes it 1 as well, so a client holding ver='1' of the empty roster is told "unchanged".
    func setRosterItem(owner: String, contact: String, name: String? = nil, subscription: String = "both",
                       ask: Bool = false, groups: [String] = []) throws {
        let groupTable = groups.map { "[\(Self.lua($0))] = true" }.joined(separator: ", ")
        let item = "{ subscription = \(Self.lua(subscription)), name = \(name.map(Self.lua) ?? "nil"), "
            + "ask = \(ask ? "\"subscribe\"" : "nil"), groups = { \(groupTable) } }"
        try changeRoster(owner: owner, contact: contact, item: item)
    }

    /// Removes `contact` from `owner`'s roster, saved and pushed (`subscription='remove'`) like `setRosterItem`.
    func removeRosterItem(owner: String, contact: String) throws {
        try changeRoster(owner: owner, contact: contact, item: "nil")
    }

    private func changeRoster(owner: String, contact: String, item: String) throws {
        let (user, host, jid) = (Self.lua(owner), Self.lua(domain), Self.lua(contact))
        try shell(lua: """
            local rm = require "core.rostermanager"; local roster = rm.load_roster(\(user), \(host)); \
            roster[\(jid)] = \(item); \
            assert(rm.save_roster(\(user), \(host), roster, \(jid)), "could not save the roster of " .. \(user)); \
            rm.roster_push(\(user), \(host), \(jid))
            """)
    }

    /// Shuts Prosody down cleanly (SIGKILL if that fails or takes more than 5 s); the data directory
    /// stays as it is. Through the admin shell, not SIGTERM: a process started from the tests'
    /// threads inherits a signal mask that blocks SIGTERM, and Prosody never sees it.
    func stop() {
        guard process.process.isRunning else { return }
        if (try? shell(lua: "prosody.shutdown(\"stopped by the test\")")) != nil {
            let deadline = Date().addingTimeInterval(5)
            while process.process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        }
        process.kill()
    }

    var log: String { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }

    /// The last `lines` lines of Prosody's log, for failure messages.
    func logTail(_ lines: Int = 30) -> String {
        log.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    deinit { process.kill() }

    private static func control(_ arguments: [String], configFile: URL) throws -> String {
        // Arguments after the command are left out of errors: `register` has a password among them.
        let shown = "prosodyctl \(arguments.first ?? "")"
        let result = try Program.run(controlBinary, ["--config", configFile.path] + arguments, timeout: 60, shown: shown)
        guard result.status == 0 else {
            throw KithProcess.ProcessFailure(description: "\(shown) exited \(result.status); stdout: \(result.stdout); stderr: \(result.stderr)")
        }
        return result.stdout
    }

    /// `text` as a Lua string literal: quotes and backslashes escaped, any other byte outside
    /// printable ASCII as a decimal escape (Lua strings are bytes, so UTF-8 passes through as it is).
    static func lua(_ text: String) -> String {
        var literal = "\""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): literal += "\\" + String(UnicodeScalar(byte))
            case 0x20..<0x7F: literal.append(Character(UnicodeScalar(byte)))
            default: literal += String(format: "\\%03d", byte) // three digits: a digit after it is not read as part of it
            }
        }
        return literal + "\""
    }
}
