import KithAPI
@testable import KithAgent
import Testing

/// The local API's events are handed over synchronously, in the order they were published.
@Suite struct EventHubTests {
    @Test func everySubscriberGetsEveryEventInOrder() async {
        let hub = EventHub()
        let (first, second) = (hub.subscribe(), hub.subscribe())
        for code in 1...100 { hub.publish(AgentEvent(event: .viewed, codes: [UInt64(code)])) }
        for stream in [first, second] {
            var codes: [UInt64] = []
            for await event in stream {
                codes += event.codes ?? []
                if codes.count == 100 { break }
            }
            #expect(codes == (1...100).map { UInt64($0) })
        }
    }

    @Test func aSubscriberThatEndsIsForgotten() async {
        let hub = EventHub()
        var stream: AsyncStream<AgentEvent>? = hub.subscribe()
        #expect(hub.subscriberCount == 1)
        stream = nil
        _ = stream
        #expect(hub.subscriberCount == 0)
    }
}
