import KithNet
import KithWire
import Testing

/// The cast of the tests of relays queued for an offline device: alice's phone, logged in once
/// and gone (what it is sent waits in the store), and more of alice's devices, logged in, that
/// send to it. A payload is the sender's index and a number, so order per sender can be checked.
struct QueuedRelayCast {
    let phone: TestDevice
    let phoneLogin: LoginResult
    let senders: [ClientConnection]

    static func start(on server: ServerHarness, senders count: Int) async throws -> QueuedRelayCast? {
        let phone = TestDevice()
        let phoneConnection = try await phone.connect(server)
        guard case .loginResult(let phoneLogin) = try await phone.login(
            phoneConnection, account: "alice", password: "correct horse", type: .mobile) else { Issue.record("login"); return nil }
        await phoneConnection.close()
        var senders: [ClientConnection] = []
        for _ in 0..<count {
            let device = TestDevice()
            let connection = try await device.connect(server)
            guard case .loginResult = try await device.login(connection, account: "alice", password: "correct horse") else {
                Issue.record("sender login"); return nil
            }
            senders.append(connection)
        }
        return QueuedRelayCast(phone: phone, phoneLogin: phoneLogin, senders: senders)
    }

    /// The phone's session again, resumed with its token.
    func resumePhone(on server: ServerHarness) async throws -> ClientConnection? {
        let back = try await phone.connect(server)
        guard case .loginResult = try await back.request(.resume(.init(token: phoneLogin.token))).message else {
            Issue.record("resume"); return nil
        }
        return back
    }

    static func payload(sender: Int, number: Int) -> [UInt8] {
        [UInt8(sender)] + withUnsafeBytes(of: UInt32(number).bigEndian, Array.init)
    }

    /// The numbers of `sender`'s payloads among `delivered`, in the order they arrived.
    func numbers(from sender: Int, in delivered: [[UInt8]]) -> [Int] {
        delivered.filter { $0.first == UInt8(sender) }.map { $0.dropFirst().reduce(0) { $0 << 8 | Int($1) } }
    }
}
