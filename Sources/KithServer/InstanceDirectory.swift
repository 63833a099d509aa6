import NIOConcurrencyHelpers

/// The addresses of the server's instances alive now (this one among them), as the store's
/// instance reports last said: what every LoginResult names, so a device that joined through one
/// instance knows where to resume when that one goes away (spec §Several instances of one server).
/// Refreshed by the `InstanceReporter`; read at every login without touching the store. Empty on
/// a store of one instance (SQLite): the invite already names it.
final class InstanceDirectory: Sendable {
    private let addresses = NIOLockedValueBox<[String]>([])
    private let own = NIOLockedValueBox<String?>(nil)

    var alive: [String] { addresses.withLockedValue { $0 } }

    func update(_ alive: [String]) { addresses.withLockedValue { $0 = alive } }

    /// This instance's address as devices reach it (`--advertise`, else a `--listen` that is not
    /// every interface): where a device on another instance is sent to join a transit ticket
    /// made here. Nil before the server listens, or when devices cannot be sent here.
    var here: String? {
        get { own.withLockedValue { $0 } }
        set { own.withLockedValue { $0 = newValue } }
    }
}
