import KithAPI
import KithCore
import KithCrypto
import KithNet
import NIOCore

/// Opens this device's Noise connections to servers, and says in one sentence why one failed:
/// a server that is not the invite's is told apart from one that cannot be reached.
struct ServerDialer: Sendable {
    let keys: KeyPair
    let group: any EventLoopGroup

    func connect(invite text: String) async throws -> ClientConnection {
        let invite: Invite
        do { invite = try Invite(parsing: text) } catch { throw AgentError(.invalidRequest, "\(error)") }
        do {
            return try await ClientConnection.connect(host: invite.host, port: invite.port,
                                                      remoteStatic: invite.key.noisePublicKey!,
                                                      localStatic: keys, group: group, timeout: .seconds(5))
        } catch let failure as ClientConnection.Failure where failure.duringHandshake {
            throw AgentError(.serverRefused, """
                the server at \(invite.host):\(invite.port) does not have the key in the invite (\(invite.key.fingerprint)): \
                it closed the handshake. The invite may be for another server, or this server's key changed; \
                check the invite with the server's operator (`kith server` prints it)
                """)
        } catch {
            throw AgentError(.serverUnreachable, "cannot reach the server at \(invite.host):\(invite.port): \(error)")
        }
    }
}
