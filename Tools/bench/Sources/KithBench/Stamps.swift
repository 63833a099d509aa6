import Foundation
import NIOConcurrencyHelpers

/// Send and arrival times per relayed payload, shared by the sending and receiving tasks.
final class NIOLockedValueBoxWrapper: Sendable {
    private let box = NIOLockedValueBox<(sent: [Int: Double], latencies: [Double])>(([:], []))

    func reset() { box.withLockedValue { $0 = ([:], []) } }

    func sent(_ sequence: Int, at time: Double) { box.withLockedValue { $0.sent[sequence] = time } }

    func arrived(_ sequence: Int, at time: Double) {
        box.withLockedValue { state in
            if let sent = state.sent.removeValue(forKey: sequence) { state.latencies.append(time - sent) }
        }
    }

    var arrivedCount: Int { box.withLockedValue { $0.latencies.count } }
    func latencies() -> [Double] { box.withLockedValue { $0.latencies } }
}
