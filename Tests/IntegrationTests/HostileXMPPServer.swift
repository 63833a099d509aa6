import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A test double of an XMPP server that turns hostile: it plays a PLAIN login on loopback (the
/// client allows PLAIN only there) up to the roster, and sends `attack` either right after its
/// first stream header or right after the roster answer. A hostile peer, not a proof that XMPP
/// works (Prosody is that).
final class HostileXMPPServer: Sendable {
    enum When: Sendable { case beforeAuthentication, afterLogin }

    enum Attack: Sendable {
        /// These bytes, then the connection stays open.
        case bytes(String)
        /// These bytes, then close: a truncated stanza.
        case truncated(String)
        /// A stanza that never ends: `prefix`, then 1 MiB chunks, each written once the one before
        /// was, up to `totalBytes` or until the client closes.
        case endless(prefix: String, totalBytes: Int)
    }

    let channel: Channel
    let port: Int
    private let chunksWritten = NIOLockedValueBox(0)
    /// 1 MiB chunks of an `endless` attack the client took before it closed.
    var endlessChunksWritten: Int { chunksWritten.withLockedValue { $0 } }

    init(attack: Attack, when: When) async throws {
        let counter = chunksWritten
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.addHandler(Script(attack: attack, when: when, counter: counter))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        port = channel.localAddress!.port!
    }

    func stop() { channel.close(promise: nil) }

    deinit { channel.close(promise: nil) }

    static let header = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
        + "id='h1' from='evil.test' version='1.0'>"

    private final class Script: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let attack: Attack
        let when: When
        let counter: NIOLockedValueBox<Int>
        var received = ""
        var headers = 0

        init(attack: Attack, when: When, counter: NIOLockedValueBox<Int>) {
            self.attack = attack
            self.when = when
            self.counter = counter
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            received += String(buffer: unwrapInboundIn(data))
            if received.contains("<stream:stream"), headers == 0 {
                headers = 1
                received = ""
                if when == .beforeAuthentication { return start(context) }
                write(context, HostileXMPPServer.header + "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
                      + "<mechanism>PLAIN</mechanism></mechanisms></stream:features>")
            } else if received.contains("<auth") {
                received = ""
                write(context, "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
            } else if received.contains("<stream:stream"), headers == 1 {
                headers = 2
                received = ""
                write(context, HostileXMPPServer.header + "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>")
            } else if received.contains("id='bind'") {
                received = ""
                write(context, "<iq type='result' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>alice@evil.test/kith</jid></bind></iq>")
            } else if received.contains("id='roster'") {
                received = ""
                write(context, "<iq type='result' id='roster'><query xmlns='jabber:iq:roster' ver='1'/></iq>")
                start(context)
            }
        }

        private func start(_ context: ChannelHandlerContext) {
            switch attack {
            case .bytes(let text):
                write(context, text)
            case .truncated(let text):
                write(context, text)
                context.close(promise: nil)
            case .endless(let prefix, let total):
                write(context, prefix)
                let chunk = context.channel.allocator.buffer(repeating: UInt8(ascii: "a"), count: 1 << 20)
                Self.writeChunks(context.channel, chunk, left: total / (1 << 20), counter: counter)
            }
        }

        private static func writeChunks(_ channel: Channel, _ chunk: ByteBuffer, left: Int, counter: NIOLockedValueBox<Int>) {
            guard left > 0 else { return }
            channel.writeAndFlush(chunk).whenSuccess {
                counter.withLockedValue { $0 += 1 }
                writeChunks(channel, chunk, left: left - 1, counter: counter)
            }
        }

        private func write(_ context: ChannelHandlerContext, _ text: String) {
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: text)), promise: nil)
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
    }
}
