import Foundation
import Testing
@testable import KithAgent

@Suite struct StoredTransferRecordTests {
    /// Records are kept as JSON in the agent's store: one written by an earlier version, in every
    /// state it could be in, still decodes, to the same state.
    @Test(arguments: ["offering", "waiting", "active", "paused", "complete", "rejected", "expired", "failed", "cancelled"])
    func aRecordStoredByAnEarlierVersionDecodes(state: String) throws {
        let json = """
        {"id":[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15],"outgoing":false,"peer":"alice-MP-1","state":"\(state)",
         "reason":"the receiver paused: no space","requested":"ask","ttlSeconds":600,"chunkSize":1048576,
         "createdMillis":1000,"deadlineMillis":601000,"touchedMillis":2000,
         "entries":[{"path":"a.txt","size":5,"mode":420,"isFolder":false}],
         "progress":[{"verifiedChunks":0,"complete":false}],"bytesSent":0,
         "folder":"/tmp/in","staging":"/tmp/in/.kith-partial-x","landed":{}}
        """
        let record = try JSONDecoder().decode(TransferRecord.self, from: Data(json.utf8))
        #expect(record.state.rawValue == state)
        #expect(record.deadlineMillis == 601_000 && record.reason == "the receiver paused: no space")
        let again = try JSONDecoder().decode(TransferRecord.self, from: JSONEncoder().encode(record))
        #expect(again.state == record.state)
    }
}
