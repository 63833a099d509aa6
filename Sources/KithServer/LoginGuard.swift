import KithCore

/// The server's `LoginLimits`, shared by every session.
actor LoginGuard {
    private var limits: LoginLimits

    init(_ configuration: ServerConfiguration) {
        limits = LoginLimits(configuration.loginLimits)
    }

    func begin(account: String, address: String, now: UInt64) -> LoginLimits.Decision {
        limits.begin(account: account, address: address, now: now)
    }

    func succeeded(_ attempt: LoginLimits.Attempt) {
        limits.succeeded(attempt)
    }

    func failed(_ attempt: LoginLimits.Attempt) {
        limits.failed(attempt)
    }

    func withdraw(_ attempt: LoginLimits.Attempt) {
        limits.withdraw(attempt)
    }
}
