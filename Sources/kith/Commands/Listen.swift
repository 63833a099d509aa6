import ArgumentParser
import Foundation
import KithCore
import KithCrypto
import KithNet
import KithWire
import NIOCore
import NIOPosix

extension Kith {
    /// A minimal responder: the seed of `kith server`, kept to exercise the channel end to end.
    struct Listen: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Accept Noise-secured connections and answer Hello, Ping and Note (a preview of `kith server`).",
            discussion: """
                Prints an invite (kith://HOST:PORT/#KEY) that `kith dial` takes. Each connection \
                runs the channel of Protocol/spec.md: preamble, Noise_IK handshake, framed envelopes. \
                Runs until interrupted.
                """
        )

        @OptionGroup var options: ProfileOption

        @Option(help: ArgumentHelp("Address to listen on; port 0 picks a free one.", valueName: "host:port"))
        var listen = "127.0.0.1:7400"

        func run() throws {
            let address: HostPort
            do { address = try HostPort(parsing: listen, allowPortZero: true) } catch { throw ValidationError("\(error)") }
            let (host, port) = (address.host, address.port)
            let identity = try options.resolved.identity().identity
            let keys = identity.noiseKeyPair
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            let channel = try ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let machine = SecureChannel(role: .responder(accepting: [.agentToServer]), localStatic: keys)
                        try channel.pipeline.syncOperations.addHandlers(
                            SecureChannelHandler(machine) { Console.line("closed a connection: \($0)") },
                            ListenResponder())
                    }
                }
                .bind(host: host, port: port).wait()
            let boundPort = channel.localAddress?.port ?? port
            Console.line("listening on \(host):\(boundPort)")
            Console.line("invite: \(Invite(host: host, port: boundPort, key: identity.publicKey))")
            try channel.closeFuture.wait()
        }
    }
}

/// Answers what `kith dial` sends. Decisions this small stay here until `kith server` replaces it.
final class ListenResponder: ChannelInboundHandler {
    typealias InboundIn = SecureChannelEvent
    typealias OutboundOut = Envelope

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .established(let key):
            Console.line("secure channel up with \(key.rawValue.prefix(8).hexString)…")
        case .envelope(let envelope):
            let reply: Message?
            switch envelope.message {
            case .hello(let hello):
                Console.line("hello from \(hello.deviceName ?? "a device") running \(hello.software)")
                reply = .hello(.init(protocolVersion: KithVersion.protocolVersion, software: KithVersion.userAgent))
            case .ping(let ping):
                reply = .pong(.init(nonce: ping.nonce))
            case .note(let note):
                Console.line("note: \(note.text)")
                reply = .ack(.init())
            default:
                reply = nil  // the preview answers only what `kith dial` sends
            }
            if let reply {
                context.writeAndFlush(wrapOutboundOut(Envelope(requestID: envelope.requestID, reply)), promise: nil)
            }
        }
    }
}
