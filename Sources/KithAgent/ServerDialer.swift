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

    static func parse(_ text: String) throws -> Invite {
        do { return try Invite(parsing: text) } catch { throw AgentError(.invalidRequest, "\(error)") }
    }

    /// The invite's addresses in turn, until one answers with the invite's key (a login).
    func connect(invite text: String) async throws -> ClientConnection {
        let invite = try Self.parse(text)
        var choice = InstanceChoice(invite: invite.addresses)
        return try await connect(choosing: &choice, key: invite.key).connection
    }

    /// One round of `choice`: the first address that answers, and which it was; the last failure
    /// when none does (the round is then over: the caller backs off and starts a new one).
    func connect(choosing choice: inout InstanceChoice, key: SigningPublicKey) async throws
        -> (connection: ClientConnection, address: HostPort)
    {
        var failure: (any Error)?
        while case .dial(let address) = choice.next() {
            do {
                let connection = try await connect(to: address, key: key)
                choice.connected(to: address)
                return (connection, address)
            } catch {
                failure = error
            }
        }
        throw failure ?? AgentError(.serverUnreachable, "the invite names no address")
    }

    func connect(to address: HostPort, key: SigningPublicKey) async throws -> ClientConnection {
        do {
            return try await ClientConnection.connect(host: address.host, port: address.port,
                                                      remoteStatic: key.noisePublicKey!,
                                                      localStatic: keys, group: group, timeout: .seconds(5))
        } catch let failure as ClientConnection.Failure where failure.duringHandshake {
            throw AgentError(.serverRefused, """
                the server at \(address) does not have the key in the invite (\(key.fingerprint)): \
                it closed the handshake. The invite may be for another server, or this server's key changed; \
                check the invite with the server's operator (`kith server` prints it)
                """)
        } catch {
            throw AgentError(.serverUnreachable, "cannot reach the server at \(address): \(error)")
        }
    }
}
