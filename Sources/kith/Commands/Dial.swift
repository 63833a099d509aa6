import ArgumentParser
import Foundation
import KithCore
import KithCrypto
import KithNet
import KithWire
import NIOCore
import NIOPosix

extension Kith {
    /// Connects to an invite, proves the channel works, and leaves.
    struct Dial: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Open a Noise-secured channel to an invite, exchange Hello, Ping and a Note, and report.",
            discussion: """
                The invite pins the listener's key: a listener holding any other key fails the \
                handshake, and nothing is sent in the clear after the eight-byte preamble.
                """
        )

        @OptionGroup var options: ProfileOption

        @Argument(help: "The listener's invite, kith://HOST:PORT/#KEY.")
        var invite: String

        @Option(help: "A note to send once the channel is up.")
        var note: String?

        @Option(help: "This device's name, as sent in Hello.")
        var name = "kith-cli"

        @Option(help: "Seconds to wait before giving up.")
        var timeout: Int64 = 10

        func validate() throws {
            guard (1...600).contains(timeout) else { throw ValidationError("--timeout must be 1…600 seconds") }
        }

        func run() throws {
            let invite: Invite
            do { invite = try Invite(parsing: self.invite) } catch { throw ValidationError("\(error)") }
            let identity = try options.resolved.identity().identity
            let keys = identity.noiseKeyPair
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            defer { try? group.syncShutdownGracefully() }
            let done = group.next().makePromise(of: Void.self)
            let serverKey = invite.key.noisePublicKey!
            let script = DialScript(name: name, note: note, done: done)
            let channel = try ClientBootstrap(group: group)
                .connectTimeout(.seconds(timeout))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let machine = SecureChannel(role: .initiator(channel: .agentToServer, remoteStatic: serverKey),
                                                    localStatic: keys)
                        try channel.pipeline.syncOperations.addHandlers(
                            SecureChannelHandler(machine) { done.fail(ChannelFailure(description: "channel closed: \($0)")) },
                            script)
                    }
                }
                .connect(host: invite.host, port: invite.port).wait()
            Console.line("connected to \(invite.host):\(invite.port), expecting key \(invite.key.fingerprint)")
            channel.closeFuture.whenComplete { _ in
                done.fail(ChannelFailure(description: script.isEstablished
                    ? "the listener closed the connection"
                    : "the listener closed the connection during the handshake: it does not hold the key in the invite, or it refused this device"))
            }
            group.next().scheduleTask(in: .seconds(timeout)) {
                done.fail(ChannelFailure(description: "no answer within \(timeout) s"))
            }
            try done.futureResult.wait()
            try? channel.close().wait()
        }
    }
}

struct ChannelFailure: Error, CustomStringConvertible { let description: String }

/// Runs the dial conversation: Hello, then Ping, then the note, one answer at a time.
final class DialScript: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = SecureChannelEvent
    typealias OutboundOut = Envelope

    private let name: String
    private let note: String?
    private let done: EventLoopPromise<Void>
    private var pingSentAt: NIODeadline?
    private(set) var isEstablished = false

    init(name: String, note: String?, done: EventLoopPromise<Void>) {
        self.name = name
        self.note = note
        self.done = done
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .established:
            isEstablished = true
            Console.line("secure channel up (\(SecureChannel.protocolName(for: .agentToServer).name)); listener key verified")
            send(context, 1, .hello(.init(protocolVersion: KithVersion.protocolVersion, software: KithVersion.userAgent,
                                          deviceName: name)))
        case .envelope(let envelope):
            switch envelope.message {
            case .hello(let hello):
                Console.line("listener runs \(hello.software) (protocol \(hello.protocolVersion))")
                pingSentAt = .now()
                send(context, 2, .ping(.init(nonce: UInt64.random(in: 0...UInt64.max))))
            case .pong:
                let rtt = pingSentAt.map { Double((NIODeadline.now() - $0).nanoseconds) / 1e6 } ?? 0
                Console.line("ping: round trip \(String(format: "%.3f", rtt)) ms")
                if let note {
                    let id = secureRandomBytes(16)
                    send(context, 3, .note(.init(id: id, sentAtMillis: UInt64(Date().timeIntervalSince1970 * 1000), text: note)))
                } else {
                    done.succeed(())
                }
            case .ack:
                Console.line("note delivered and acknowledged")
                done.succeed(())
            case .errorMessage(let error):
                done.fail(ChannelFailure(description: "listener refused: \(error.message ?? "error \(error.code)")"))
            default:
                break
            }
        }
    }

    private func send(_ context: ChannelHandlerContext, _ requestID: UInt32, _ message: Message) {
        context.writeAndFlush(wrapOutboundOut(Envelope(requestID: requestID, message)), promise: nil)
    }
}
