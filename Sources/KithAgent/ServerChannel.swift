import KithNet
import KithWire
import NIOCore

/// What an account sends its server requests on: the device's own connection, or — for a
/// linked account's page — the master's connection, each message wrapped for the page's account
/// (`ForAccount`, Protocol/links.md §One connection, many accounts). The account's code is the
/// same either way.
protocol ServerChannel: Sendable {
    var isClosed: Bool { get }
    func request(_ message: Message, timeout: TimeAmount) async throws -> Envelope
    func send(_ message: Message) async throws
}

extension ServerChannel {
    func request(_ message: Message) async throws -> Envelope { try await request(message, timeout: .seconds(15)) }
}

extension ClientConnection: ServerChannel {}

/// The master's connection, speaking for the linked account `account`.
struct LinkedChannel: ServerChannel {
    let base: ClientConnection
    let account: String

    var isClosed: Bool { base.isClosed }

    func request(_ message: Message, timeout: TimeAmount) async throws -> Envelope {
        try await base.request(try wrap(message), timeout: timeout)
    }

    func send(_ message: Message) async throws {
        try await base.send(try wrap(message))
    }

    private func wrap(_ message: Message) throws -> Message {
        .forAccount(.init(account: account, message: try Envelope(message).encode()))
    }
}
