import Foundation
import KithAPI

/// Marking everything from a contact read at once, until the siblings agree.
struct Convergence {
    /// The `read … all` call itself on the reader.
    var call: Double
    /// Request sent → a `viewed` event leaving 0 unread read on each sibling (nil: never came).
    var perSibling: [Double?]
    /// The slowest sibling: the time until every device shows everything read.
    var converged: Double? { perSibling.contains(where: { $0 == nil }) ? nil : perSibling.compactMap { $0 }.max() }
}

/// Sends `{"method":"read","params":{"contact":CONTACT,"all":true}}` on `reader` and waits until
/// each sibling's events say that nothing from the contact is unread.
func measureReadAll(contact: String, expected: Int, reader: LocalAPIClient, siblings: [EventRecorder],
                    siblingClients: [LocalAPIClient], findings: Findings) throws -> Convergence {
    let line = LocalAPIClient.line(ReadRequest(contact: contact, all: true))
    let start = monotonicNanos()
    let response = try reader.exchange(line)
    let call = secondsSince(start)
    let read = try LocalAPIClient.decode(response, as: ReadResult.self, from: "\(reader.name) read all")
    if read.newlyViewed != expected {
        findings.add("read all on \(reader.name) turned \(read.newlyViewed) messages viewed, expected \(expected)")
    }
    var perSibling: [Double?] = []
    for recorder in siblings {
        guard let settled = recorder.waitForSettled(after: start, timeout: 120) else {
            findings.add("\(recorder.name) sent no viewed event with unread 0 within 120 s of read all")
            perSibling.append(nil)
            continue
        }
        perSibling.append(Double(settled.at - start) / 1e9)
        if settled.codeCount != expected {
            findings.add("the settling viewed event on \(recorder.name) named \(settled.codeCount) codes, expected \(expected)")
        }
    }
    // The events say 0 unread; check that the stores agree.
    for client in siblingClients + [reader] {
        let unread = try client.call(InboxRequest(limit: 1)).unread[contact] ?? 0
        if unread != 0 { findings.add("\(client.name) still counts \(unread) unread from \(contact) after read all") }
    }
    return Convergence(call: call, perSibling: perSibling)
}
