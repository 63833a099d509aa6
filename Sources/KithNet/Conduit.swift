import KithWire
import NIOConcurrencyHelpers
import NIOCore

/// A conduit: a device-to-device stream as the transfer code sees it, whatever carries it: envelopes in
/// (after one `.established` event naming the peer's verified key), envelopes out, close. Two
/// carriers: `TCPConduit` (the secure channel over TCP, direct or through transit) and the
/// UDP stream over a direct session (spec §UDP stream; `UDPConduit` in the agent).
public protocol Conduit: Sendable {
    /// Closes the conduit from anywhere (a cancel, a path switch); identity tells conduits apart.
    var handle: ConduitHandle { get }
    /// Runs `body` with the conduit's events and writer, then closes it.
    func executeThenClose<Result: Sendable>(
        _ body: (inout ConduitEvents, ConduitWriter) async throws -> Result
    ) async throws -> Result
}

/// Closes one conduit; compared by identity (`===`) to tell a transfer's current conduit from an old one.
public final class ConduitHandle: Sendable {
    private let action: @Sendable () -> Void

    public init(close: @escaping @Sendable () -> Void) { action = close }

    public func close() { action() }
}

/// The events of a conduit: `.established` first, then envelopes; nil when the conduit ended.
public struct ConduitEvents: AsyncIteratorProtocol {
    private let nextEvent: () async throws -> SecureChannelEvent?

    public init(_ next: @escaping () async throws -> SecureChannelEvent?) { nextEvent = next }

    public mutating func next() async throws -> SecureChannelEvent? { try await nextEvent() }
}

/// Writes envelopes to a conduit; waits while the carrier's buffers are full.
public struct ConduitWriter: Sendable {
    private let action: @Sendable ([Envelope]) async throws -> Void

    public init(_ write: @escaping @Sendable ([Envelope]) async throws -> Void) { action = write }

    public func write(_ envelope: Envelope) async throws { try await action([envelope]) }
    public func write(contentsOf envelopes: [Envelope]) async throws { try await action(envelopes) }
}

/// The TCP carrier: a `DeviceStreamChannel` (preamble kind 2, Noise_IK, then envelopes).
public struct TCPConduit: Conduit {
    public let stream: DeviceStreamChannel
    public let handle: ConduitHandle

    public init(_ stream: DeviceStreamChannel) {
        self.stream = stream
        let channel = stream.channel
        handle = ConduitHandle { channel.close(promise: nil) }
    }

    public func executeThenClose<Result: Sendable>(
        _ body: (inout ConduitEvents, ConduitWriter) async throws -> Result
    ) async throws -> Result {
        try await stream.executeThenClose { inbound, outbound in
            let box = IteratorBox(inbound.makeAsyncIterator())
            var events = ConduitEvents { try await box.next() }
            return try await body(&events, ConduitWriter { try await outbound.write(contentsOf: $0) })
        }
    }

    private final class IteratorBox {
        var iterator: NIOAsyncChannelInboundStream<SecureChannelEvent>.AsyncIterator
        init(_ iterator: NIOAsyncChannelInboundStream<SecureChannelEvent>.AsyncIterator) { self.iterator = iterator }
        func next() async throws -> SecureChannelEvent? { try await iterator.next() }
    }
}

/// A queue of events from a carrier that pushes (the UDP stream) to a reader that pulls; it
/// counts what waits, so the carrier can stop taking data when the reader falls behind.
public final class EventQueue<Element: Sendable>: Sendable {
    private struct State {
        var buffer: [Element] = []
        var head = 0
        var finished: (any Error)?? = nil
        var waiter: CheckedContinuation<Element?, any Error>?
    }

    private let state = NIOLockedValueBox(State())

    private enum Pending {
        case value(Element?)
        case failure(any Error)
        case wait
    }

    public init() {}

    /// Elements waiting for the reader.
    public var count: Int { state.withLockedValue { $0.buffer.count - $0.head } }

    public func push(_ element: Element) {
        let waiter: CheckedContinuation<Element?, any Error>? = state.withLockedValue { state in
            guard state.finished == nil else { return nil }
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.buffer.append(element)
            return nil
        }
        waiter?.resume(returning: element)
    }

    /// Ends the queue: the reader gets what waits, then nil (or `error`).
    public func finish(_ error: (any Error)? = nil) {
        let waiter: CheckedContinuation<Element?, any Error>? = state.withLockedValue { state in
            guard state.finished == nil else { return nil }
            state.finished = .some(error)
            defer { state.waiter = nil }
            return state.waiter
        }
        if let error { waiter?.resume(throwing: error) } else { waiter?.resume(returning: nil) }
    }

    public var isFinished: Bool { state.withLockedValue { $0.finished != nil } }

    public func next() async throws -> Element? {
        try await withCheckedThrowingContinuation { continuation in
            let now: Pending = state.withLockedValue { state in
                if state.head < state.buffer.count {
                    let element = state.buffer[state.head]
                    state.head += 1
                    if state.head > 1024 && state.head * 2 > state.buffer.count {
                        state.buffer.removeFirst(state.head)
                        state.head = 0
                    }
                    return .value(element)
                }
                if let finished = state.finished {
                    if let error = finished { return .failure(error) }
                    return .value(nil)
                }
                state.waiter = continuation
                return .wait
            }
            switch now {
            case .value(let element): continuation.resume(returning: element)
            case .failure(let error): continuation.resume(throwing: error)
            case .wait: break
            }
        }
    }
}
