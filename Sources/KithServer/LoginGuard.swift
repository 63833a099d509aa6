import KithCore
import KithStore

/// The server's `LoginLimits`, shared by every session — and, when instances share a store, by
/// every instance: each tells the others the passwords it checked (`InstanceWord.loginChecked`)
/// and counts theirs as its own, so guesses spread over the instances meet one limit.
actor LoginGuard {
    private var limits: LoginLimits
    /// Tells the other instances; nil on a store of one instance.
    private let tell: (@Sendable (InstanceWord) -> Void)?

    init(_ configuration: ServerConfiguration, tell: (@Sendable (InstanceWord) -> Void)? = nil) {
        limits = LoginLimits(configuration.loginLimits)
        self.tell = tell
    }

    func begin(account: String, address: String, now: UInt64) -> LoginLimits.Decision {
        limits.begin(account: account, address: address, now: now)
    }

    func succeeded(_ attempt: LoginLimits.Attempt) {
        limits.succeeded(attempt)
        tell?(.loginChecked(account: attempt.account, address: attempt.address, right: true))
    }

    func failed(_ attempt: LoginLimits.Attempt) {
        limits.failed(attempt)
        tell?(.loginChecked(account: attempt.account, address: attempt.address, right: false))
    }

    func withdraw(_ attempt: LoginLimits.Attempt) {
        limits.withdraw(attempt)
    }

    /// Another instance checked a password.
    func checkedElsewhere(account: String, address: String, right: Bool, now: UInt64) {
        limits.checkedElsewhere(account: account, address: address, right: right, now: now)
    }
}
