import Foundation
import KithWire
import Testing
@testable import KithAgent

@Suite struct TransferRecordTests {
    /// A stored record keeps the permission its offer asks for by name, as records stored before
    /// it was the schema's enum did, and offers it as the wire's code.
    @Test func theRequestedPermissionIsStoredByName() throws {
        let record = TransferRecord(id: Array(0..<16), outgoing: true, peer: "alice-MP-1", state: .offering, reason: nil,
                                    requested: .ask, ttlSeconds: 60, chunkSize: 1 << 20, createdMillis: 1, deadlineMillis: nil,
                                    entries: [.init(path: "d", size: 0, mode: 0o755, isFolder: true)], progress: [.init(complete: true)])
        let json = try JSONEncoder().encode(record)
        #expect(String(decoding: json, as: UTF8.self).contains(#""requested":"ask""#))
        #expect(try JSONDecoder().decode(TransferRecord.self, from: json).requested == .ask)
        #expect(record.offer.receive == .ask && record.offer.files.map(\.kind) == [.folder])
    }
}
