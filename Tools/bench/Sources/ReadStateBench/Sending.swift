import Foundation
import KithAPI

/// bob sends `count` messages to alice, one `send` at a time: each answers once bob's agent has
/// relayed the three copies (one stop-and-wait request to the server each). Then it waits until
/// every alice device counts `unreadAfter` unread from bob. Returns the seconds it all took.
func sendMessages(_ count: Int, numberedFrom first: Int, bob: LocalAPIClient, alice: [LocalAPIClient],
                  unreadAfter: Int, findings: Findings) throws -> Double {
    let start = monotonicNanos()
    var waiting = 0
    for i in first..<(first + count) {
        let sent = try bob.call(SendRequest(to: "alice", text: "message \(i)"))
        if !sent.relayed { waiting += 1 }
        let done = i - first + 1
        if done % 1000 == 0 || done == count {
            say(String(format: "  bob sent %d/%d (%.0f msg/s)", done, count, Double(done) / secondsSince(start)))
        }
    }
    if waiting > 0 { findings.add("\(waiting) of \(count) sends answered relayed: false (the copies waited in bob's outbox)") }

    // Everything is relayed; the alice agents may still be committing what the server delivers.
    try poll("\(unreadAfter) unread from bob on every alice device", timeout: 60 + Double(count) / 50, interval: 0.2) { state in
        let counts = try alice.map { try $0.call(InboxRequest(limit: 1)).unread["bob"] ?? 0 }
        state = zip(alice, counts).map { "\($0.name) \($1)" }.joined(separator: ", ")
        return counts.allSatisfy { $0 >= unreadAfter }
    }
    for client in alice {
        let unread = try client.call(InboxRequest(limit: 1)).unread["bob"] ?? 0
        if unread != unreadAfter { findings.add("\(client.name) counts \(unread) unread from bob, expected \(unreadAfter)") }
    }
    return secondsSince(start)
}
