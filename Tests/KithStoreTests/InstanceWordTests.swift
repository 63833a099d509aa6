import Foundation
import KithStore
import Testing

/// The word one server instance tells the others (`InstanceWord`): what it writes reads back on
/// its channel, and anything else is dropped.
struct InstanceWordTests {
    let words: [InstanceWord] = [
        .accountChanged("alice"),
        .transit(TransitNotice(to: "alice-MP-1", from: "alice-PC-1", ticket: Array(0..<16), at: "127.0.0.1:7400")),
        .transit(TransitNotice(to: "a-MP-1", from: "a-PC-1", ticket: Array(repeating: 255, count: 16), at: "[2001:db8::1]:7400")),
        .sessionMoved(deviceID: "alice-MP-1", address: "127.0.0.2:50123"),
    ]

    @Test func everyWordReadsBackOnItsChannel() throws {
        for word in words {
            let (channel, payload) = word.notification(by: "0a1b2c3d")
            #expect(InstanceWord.channels.contains(channel))
            let read = try #require(InstanceWord.parse(channel: channel, payload: payload), "\(payload)")
            #expect(read.instance == "0a1b2c3d" && read.word == word)
            for other in InstanceWord.channels where other != channel {
                #expect(InstanceWord.parse(channel: other, payload: payload) == nil, "\(payload) on \(other)")
            }
        }
        #expect(words[1].notification(by: "i").payload == "i alice-MP-1 alice-PC-1 000102030405060708090a0b0c0d0e0f 127.0.0.1:7400")
    }

    @Test func anythingElseIsDropped() {
        let (channel, good) = words[1].notification(by: "0a1b2c3d")
        for payload in ["", good + " extra", String(good.dropLast(15)), good.replacingOccurrences(of: "0e0f", with: "0e"),
                        good.replacingOccurrences(of: "0e0f", with: "0e0g"), good.replacingOccurrences(of: "alice-MP-1 ", with: " "),
                        good.replacingOccurrences(of: "0e0f", with: "0e0f00")] {
            #expect(InstanceWord.parse(channel: channel, payload: payload) == nil, "\(payload)")
        }
        #expect(InstanceWord.parse(channel: "kith_relay", payload: "i alice") == nil)
        #expect(InstanceWord.parse(channel: InstanceWord.channels[0], payload: "i") == nil)
        #expect(InstanceWord.parse(channel: InstanceWord.channels[2], payload: "i alice-MP-1") == nil)
    }
}
