import Foundation
import KithStore
import Testing

/// The word one server instance sends the others about a transit ticket (spec §Transit, Across
/// instances): what it writes reads back, and anything else is dropped.
struct TransitNoticeTests {
    let notice = TransitNotice(to: "alice-MP-1", from: "alice-PC-1", ticket: Array(0..<16), at: "127.0.0.1:7400")

    @Test func aPayloadReadsBack() throws {
        let payload = notice.payload(by: "0a1b2c3d")
        #expect(payload == "0a1b2c3d alice-MP-1 alice-PC-1 000102030405060708090a0b0c0d0e0f 127.0.0.1:7400")
        let read = try #require(TransitNotice.parse(payload))
        #expect(read.instance == "0a1b2c3d" && read.notice == notice)
        #expect(TransitNotice.parse(TransitNotice(to: "a", from: "b", ticket: Array(0..<16), at: "[2001:db8::1]:7400")
            .payload(by: "i"))?.notice.at == "[2001:db8::1]:7400")
    }

    @Test func anythingElseIsDropped() {
        let good = notice.payload(by: "0a1b2c3d")
        for payload in ["", good + " extra", String(good.dropLast(15)), good.replacingOccurrences(of: "0e0f", with: "0e"),
                        good.replacingOccurrences(of: "0e0f", with: "0e0g"), good.replacingOccurrences(of: "alice-MP-1 ", with: " "),
                        good.replacingOccurrences(of: "0e0f", with: "0e0f00")] {
            #expect(TransitNotice.parse(payload) == nil, "\(payload)")
        }
    }
}
