/// Which address of its server an agent dials next (spec §Several instances of one server).
///
/// A server may run as several instances sharing one key: the invite names some, and every
/// LoginResult names those alive. The agent dials the one that last worked first, then the
/// invite's, then the learned ones, each once per round; when a round has tried them all it backs
/// off. A connection that worked and ended puts its address last in the next round, so a device
/// whose instance went away is on another at the first try instead of waiting for a dead one.
/// No sockets and no clock: the `ServerConnection` dials, sleeps and reports back.
public struct InstanceChoice: Sendable, Equatable {
    public enum Next: Sendable, Equatable {
        case dial(HostPort)
        /// Every address failed this round: back off, then `newRound()`.
        case wait
    }

    /// How many addresses are kept: the invite's, then the learned ones, up to this.
    public static let maxAddresses = 16

    private var invited: [HostPort]
    private var learned: [HostPort] = []
    private var preferred: HostPort?
    private var lastLost: HostPort?
    private var tried: [HostPort] = []

    public init(invite: [HostPort], learned: [HostPort] = []) {
        invited = invite
        learn(learned)
    }

    /// Every address in the order a new round dials them.
    public var addresses: [HostPort] {
        var order: [HostPort] = []
        for address in [preferred].compactMap({ $0 }) + invited + learned where !order.contains(address) {
            order.append(address)
        }
        if let lastLost, let index = order.firstIndex(of: lastLost) { order.append(order.remove(at: index)) }
        return Array(order.prefix(Self.maxAddresses))
    }

    /// The invite's addresses changed (a login with another invite): its learned ones go too.
    public mutating func reset(invite: [HostPort]) {
        guard invite != invited else { return }
        self = InstanceChoice(invite: invite)
    }

    /// The server named its alive instances: they replace those it named before.
    public mutating func learn(_ addresses: [HostPort]) {
        learned = addresses.filter { !invited.contains($0) }
    }

    public mutating func next() -> Next {
        guard let address = addresses.first(where: { !tried.contains($0) }) else { return .wait }
        tried.append(address)
        return .dial(address)
    }

    /// After the backoff of a round that failed.
    public mutating func newRound() { tried = [] }

    /// A dial succeeded: that address goes first from now on.
    public mutating func connected(to address: HostPort) {
        preferred = address
        lastLost = nil
        tried = []
    }

    /// Where a device joins a transit ticket (spec §Transit, Across instances): the instance it is
    /// `connected` to, or the one the offer names (`at`) when its server named that address as an
    /// instance — in its `invite` or in the `learned` list of its last LoginResult. Never an
    /// address only the offer gives: a server cannot send a device to dial anywhere it likes.
    public static func transitAddress(at: String?, connected: HostPort?, invite: [HostPort], learned: [String]) -> HostPort? {
        guard let at else { return connected }
        guard let address = try? HostPort(parsing: at), invite.contains(address) || learned.contains(address.description) else {
            return nil
        }
        return address
    }

    /// A connection that worked ended: the next round tries the others before it.
    public mutating func lost(_ address: HostPort) {
        lastLost = address
        tried = []
    }
}
