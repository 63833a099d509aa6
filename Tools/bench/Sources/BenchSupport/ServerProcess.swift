import Foundation
import KithCore
import KithCrypto
import KithNet
import KithWire
import NIOCore

/// A `kith server` child process with its invite, and its resident memory.
public final class ServerProcess: @unchecked Sendable {
    public let process = Process()
    public let directory: URL
    public var invite: Invite!

    /// Thousands of sessions log in at once: the cap on connections waiting to log in in all
    /// is raised for the bench. Each device connects from an address of its own in 127/8
    /// (`Device.source`), as devices of many people do, so the caps per address hold as shipped.
    public static let admission = ["--waiting-total", "20000", "--login-deadline", "60"]

    /// `sameKeyAs`: another instance of that server (its key), for a shared store (`--store`).
    public init(_ kith: String, _ extra: [String], sameKeyAs other: ServerProcess? = nil) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("kith-bench-\(UUID().uuidString.prefix(6))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        if let other {
            try FileManager.default.copyItem(at: other.directory.appendingPathComponent("identity.seed"),
                                             to: directory.appendingPathComponent("identity.seed"))
        }
        let out = directory.appendingPathComponent("server.out")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        let serverArguments = ["server", "--data", directory.path, "--listen", "127.0.0.1:0", "--keepalive-timeout", "3600"]
            + Self.admission + extra
        if let cpu = ProcessInfo.processInfo.environment["KITH_BENCH_SERVER_CPU"] {
            // Pin the server to one core (run the load client with `taskset -c OTHER`) to tell
            // server cost from interference between the two.
            process.executableURL = URL(fileURLWithPath: "/usr/bin/taskset")
            process.arguments = ["-c", cpu, kith] + serverArguments
        } else {
            process.executableURL = URL(fileURLWithPath: kith)
            process.arguments = serverArguments
        }
        process.standardOutput = try FileHandle(forWritingTo: out)
        if Self.keep {
            let log = directory.appendingPathComponent("server.log")
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            process.standardError = try FileHandle(forWritingTo: log)
        } else {
            process.standardError = FileHandle.nullDevice
        }
        try process.run()
        for _ in 0..<200 {
            if let line = ((try? String(contentsOf: out, encoding: .utf8)) ?? "").split(separator: "\n")
                .first(where: { $0.hasPrefix("invite: ") }) {
                invite = try Invite(parsing: String(line.dropFirst(8)))
                return
            }
            usleep(50_000)
        }
        throw ChannelFailure("the server printed no invite")
    }

    /// KITH_BENCH_KEEP set: the server's folder stays after the run, with its log (server.log).
    static let keep = ProcessInfo.processInfo.environment["KITH_BENCH_KEEP"] != nil

    public var residentMiB: Double {
        let status = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)) ?? ""
        let kb = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }?
            .split(separator: " ").dropFirst().first.flatMap { Double($0) } ?? .nan
        return kb / 1024
    }

    /// CPU seconds the server has used (user + system), from /proc.
    public var cpuSeconds: Double {
        let stat = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8)) ?? ""
        // The fields after the command name, which is in parentheses: utime and stime are the 12th and 13th.
        let fields = stat.split(separator: ")").last?.split(separator: " ") ?? []
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return .nan }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    public func stop() {
        process.terminate()
        process.waitUntilExit()
        if !Self.keep { try? FileManager.default.removeItem(at: directory) }
    }
}

public struct ChannelFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

public struct Device: Sendable {
    public let identity = DeviceIdentity.generate()
    public let account: String
    public init(account: String) { self.account = account }

    /// The loopback address it connects from: one of about 64,000 in 127/8, fixed by its key.
    public var source: String {
        let key = identity.publicKey.rawValue
        return "127.\(1 + key[0] % 250).\(key[1]).\(1 + key[2] % 250)"
    }
}

public func connect(_ server: ServerProcess, _ device: Device, group: any EventLoopGroup,
                    observe: (@Sendable (Envelope) -> Void)? = nil) async throws -> ClientConnection {
    try await connect(server.invite, device, group: group, observe: observe)
}

public func connect(_ invite: Invite, _ device: Device, group: any EventLoopGroup,
                    observe: (@Sendable (Envelope) -> Void)? = nil) async throws -> ClientConnection {
    try await ClientConnection.connect(host: invite.host, port: invite.port,
                                       remoteStatic: invite.key.noisePublicKey!,
                                       localStatic: device.identity.noiseKeyPair, group: group, timeout: .seconds(60),
                                       from: device.source, observe: observe)
}

