/// Which datagram counters a session has already accepted (spec §Replay window).
///
/// A sliding bitmap in the manner of RFC 6479: counters `size` or more behind the highest one
/// seen are refused as too old; within the window each counter is accepted once. The bitmap
/// has one word more than the window needs, so the word the window slides into (cleared) is
/// never one that still holds live bits. `wouldAccept` only asks; `accept` records, and is
/// called after the AEAD verified, so a forged packet cannot move the window.
public struct ReplayWindow: Sendable, Equatable {
    public static let size: UInt64 = 2048
    private static let wordCount = UInt64(size / 64 + 1)
    private var words = [UInt64](repeating: 0, count: Int(wordCount))
    /// The highest counter accepted; nil before the first.
    public private(set) var highest: UInt64?

    public init() {}

    public func wouldAccept(_ counter: UInt64) -> Bool {
        guard let highest else { return true }
        if counter > highest { return true }
        if highest - counter >= Self.size { return false }
        return words[Self.word(counter)] & Self.bit(counter) == 0
    }

    /// Records `counter`; returns false (and changes nothing) if it was a replay or too old.
    @discardableResult
    public mutating func accept(_ counter: UInt64) -> Bool {
        guard wouldAccept(counter) else { return false }
        if let previous = highest, counter > previous {
            let slid = min(counter / 64 - previous / 64, Self.wordCount)
            for step in 0..<slid { words[Self.word((previous / 64 + 1 + step) * 64)] = 0 }
            highest = counter
        } else if highest == nil {
            highest = counter
        }
        words[Self.word(counter)] |= Self.bit(counter)
        return true
    }

    private static func word(_ counter: UInt64) -> Int { Int((counter / 64) % wordCount) }
    private static func bit(_ counter: UInt64) -> UInt64 { 1 << (counter % 64) }
}
