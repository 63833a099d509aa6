import Foundation
import KithCore
import KithStore
import KithWire
import KithTestSupport
import Logging
import Testing
@testable import KithServer

/// The keeper restores a stored roster once (checking its signatures) and again only when the
/// stored bytes change, whoever stored them: another instance on the same database included.
@Suite struct RosterKeeperTests {
    @Test func aRosterStoredBehindTheKeepersBackIsTheOneItAnswersWith() async throws {
        let store = try aliceStore("roster-keeper")
        let keeper = RosterKeeper(store: store, logger: Logger(label: "test"))
        #expect(keeper.current(account: "alice") == nil)

        let cast = ServerRulesTests.self
        try store.storeRoster(account: "alice", document: Self.signed(2, [cast.laptop, cast.phone]), kept: true)
        #expect(keeper.current(account: "alice")?.version == 2)
        #expect(keeper.current(account: "alice")?.member("alice-MP-1") != nil)  // from the restored book

        try store.storeRoster(account: "alice", document: Self.signed(3, [cast.laptop]), kept: false)
        let third = keeper.current(account: "alice")
        #expect(third?.version == 3 && third?.member("alice-MP-1") == nil)
    }

    /// alice's roster `version`, signed by her laptop, as the store keeps it.
    static func signed(_ version: UInt64, _ members: [RosterMember]) throws -> [UInt8] {
        let cast = ServerRulesTests.self
        let roster = Roster(account: "alice", epoch: 0, version: version, issuedAtMillis: cast.now + version,
                            devices: members.map(\.wire), recoveryKey: cast.aliceRecovery.publicKey.rawValue)
        return try RosterSigning.encode(try RosterSigning.sign(roster, signer: "alice-PC-1", with: cast.alicePC1Key))
    }
}
