import KithCore
import Testing

/// The DNS-SD TXT record (spec §LAN discovery): built, parsed, and refused when it is not ours.
struct LANRecordTests {
    let fingerprint = "VHQP6-PGZ4Y-E3SFW-4TY5G"

    @Test func aRecordRoundTripsAndIgnoresWhatItDoesNotKnow() throws {
        let record = LANRecord(fingerprint: fingerprint, accountTag: LANRecord.accountTag(account: "alice", day: 20_000))
        #expect(LANRecord(txt: record.txt) == record)
        let extra: [UInt8] = [7] + Array("x=extra".utf8) + [4] + Array("junk".utf8)
        #expect(LANRecord(txt: record.txt + extra) == record)
        // The first of two values counts.
        let twice = record.txt + [4] + Array("v=99".utf8)
        #expect(LANRecord(txt: twice)?.version == 0)
        #expect(LANRecord.instanceName(fingerprint: fingerprint) == "kith-VHQP6PGZ4Y")
    }

    @Test func recordsThatAreNotKithAreRefused() {
        func txt(_ entries: String...) -> [UInt8] { entries.flatMap { [UInt8($0.utf8.count)] + Array($0.utf8) } }
        #expect(LANRecord(txt: txt("v=0", "fp=\(fingerprint)")) == nil)                             // no tag
        #expect(LANRecord(txt: txt("v=0", "fp=NOT-A-FINGERPRINT", "tag=0011223344556677")) == nil)
        #expect(LANRecord(txt: txt("v=x", "fp=\(fingerprint)", "tag=0011223344556677")) == nil)
        #expect(LANRecord(txt: txt("v=0", "fp=\(fingerprint)", "tag=00112233445566zz")) == nil)
        #expect(LANRecord(txt: [5, 0x76, 0x3d]) == nil)                                           // cut short
        #expect(LANRecord(txt: [UInt8](repeating: 0, count: 2000)) == nil)                          // too long
        #expect(LANRecord(txt: []) == nil)
    }

    @Test func theAccountTagChangesDailyAndTellsNothingOfTheName() {
        let today = LANRecord.accountTag(account: "alice", day: 20_000)
        #expect(today.count == 16 && !today.contains("alice"))
        #expect(today != LANRecord.accountTag(account: "alice", day: 20_001))
        #expect(today != LANRecord.accountTag(account: "bob", day: 20_000))
        #expect(LANRecord.tag(today, isOf: "alice", day: 20_000))
        #expect(LANRecord.tag(today, isOf: "alice", day: 20_001))   // yesterday's, near midnight
        #expect(!LANRecord.tag(today, isOf: "alice", day: 20_002))
        #expect(!LANRecord.tag(today, isOf: "bob", day: 20_000))
    }
}
