import KithStore
import KithTestSupport
import Testing

/// What a shared store tells the instances after a commit of payloads: the payloads when they
/// fit, where they follow on, and a read when they do not fit.
@Suite struct RelayNoticeTests {
    static func record(_ id: Int64, _ size: Int, code: Int64? = nil, scope: String? = nil, fromAccount: String? = nil) -> RelayRecord {
        RelayRecord(id: id, from: "alice-PC-1", to: "alice-Phone-2", payload: (0..<size).map { UInt8($0 % 251) },
                    code: code, scope: scope, fromAccount: fromAccount)
    }

    @Test func payloadsThatFitTravelInOneNoticeAndComeBackAsTheyWere() throws {
        let records = [Self.record(12, 100, code: 7), Self.record(15, 0), Self.record(16, 40, scope: "bob", fromAccount: "bob")]
        let payloads = RelayNotice.payloads(receiver: "alice-Phone-2", after: 9, records: records)
        #expect(payloads.count == 1)
        let notice = try #require(RelayNotice.parse(payloads[0]))
        #expect(notice == RelayNotice(receiver: "alice-Phone-2", after: 9, records: records))
    }

    @Test func manyPayloadsAreSplitIntoNoticesThatFollowOnFromEachOther() throws {
        let records = (1...40).map { Self.record(Int64(100 + $0), 400) }
        let payloads = RelayNotice.payloads(receiver: "alice-Phone-2", after: 50, records: records)
        #expect(payloads.count > 1)
        #expect(payloads.allSatisfy { $0.utf8.count <= RelayNotice.payloadLimit })
        let notices = try payloads.map { try #require(RelayNotice.parse($0)) }
        #expect(notices.flatMap { $0.records ?? [] } == records, "every payload once, in order")
        var after: Int64 = 50
        for notice in notices {
            #expect(notice.after == after, "each follows on from the last payload of the one before")
            after = notice.records?.last?.id ?? after
        }
    }

    @Test func aPayloadTooLargeToCarryMakesTheReceiverReadItsQueue() throws {
        let records = [Self.record(3, 100), Self.record(4, 10_000), Self.record(5, 100)]
        let payloads = RelayNotice.payloads(receiver: "alice-Phone-2", after: 2, records: records)
        let notices = try payloads.map { try #require(RelayNotice.parse($0)) }
        #expect(notices == [RelayNotice(receiver: "alice-Phone-2", after: 2, records: [records[0]]),
                            RelayNotice(receiver: "alice-Phone-2", after: 3, records: nil)])
    }

    @Test func anOlderInstancesNoticeNamesOnlyTheReceiver() {
        #expect(RelayNotice.parse("alice-Phone-2") == RelayNotice(receiver: "alice-Phone-2", after: 0, records: nil))
    }

    @Test func damagedNoticesAreDropped() {
        let good = RelayNotice.payloads(receiver: "alice-Phone-2", after: 9, records: [Self.record(12, 30, code: 7)])[0]
        let parts = good.split(separator: " ").map(String.init)
        var damaged = [
            "", " 9", "alice-Phone-2 x", "alice-Phone-2 -1", "alice-Phone-2 9 12", "alice-Phone-2 9 read extra",
            parts.dropLast().joined(separator: " "), // a field missing
            good + " 13", // a record cut short
        ]
        for (index, replacement) in [(2, "9"), (2, "x"), (3, ""), (4, "z"), (7, "!!!")] {
            var changed = parts
            changed[index] = replacement
            damaged.append(changed.joined(separator: " "))
        }
        for payload in damaged {
            #expect(RelayNotice.parse(payload) == nil, "\(payload.prefix(60))")
        }
    }

    // MARK: Protocol/vectors/relay-notice.json (Tools/make-vectors, from the spec's words)

    struct Vector: Decodable, CustomTestStringConvertible {
        struct Meaning: Decodable {
            struct Record: Decodable {
                let relayID: Int64
                let sender: String
                let payloadHex: String
                let code: Int64?
                let scope: String?
                let fromAccount: String?
            }
            let receiver: String
            let after: Int64
            let records: [Record]?
        }
        let tcId: Int
        let comment: String
        let result: String
        let notice: String
        let meaning: Meaning?
        var testDescription: String { "#\(tcId) \(comment)" }
    }

    @Test(arguments: try VectorFile<Vector>.load("relay-notice.json"))
    func vector(_ v: Vector) throws {
        guard let meaning = v.meaning else {
            #expect(RelayNotice.parse(v.notice) == nil)
            return
        }
        let records = meaning.records?.map { r in
            RelayRecord(id: r.relayID, from: r.sender, to: meaning.receiver, payload: [UInt8](vectorHex: r.payloadHex),
                        code: r.code, scope: r.scope, fromAccount: r.fromAccount)
        }
        let expected = RelayNotice(receiver: meaning.receiver, after: meaning.after, records: records)
        #expect(RelayNotice.parse(v.notice) == expected)
        if let records {
            #expect(RelayNotice.payloads(receiver: meaning.receiver, after: meaning.after, records: records) == [v.notice],
                    "written as the vector says")
        }
    }
}
