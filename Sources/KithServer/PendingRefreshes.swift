/// Words from other instances that an account changed, folded while its refresh waits to start.
/// A device coming online on another instance announces its account, and 2,000 devices coming
/// back at once sent thousands of words, each a refresh of a dozen reads that kept the instance
/// busy for half a minute after the last device was answered. A word for an account whose
/// refresh has not started reading yet adds nothing: that refresh reads what the word announced.
struct PendingRefreshes: Sendable {
    private(set) var waiting: Set<String> = []

    /// A word that `account` changed: true when a refresh of it must be started.
    mutating func heard(_ account: String) -> Bool {
        waiting.insert(account).inserted
    }

    /// The refresh of `account` starts reading: a word after this needs a refresh of its own.
    mutating func starting(_ account: String) {
        waiting.remove(account)
    }
}
