import KithCrypto
import KithWire
import Testing
@testable import KithCore

/// A contact's roster as alice's devices hold it (Protocol/roster.md §Contacts' rosters): bob's
/// desktop (bob-PC-1) is his primary, his phone (bob-MP-1) a secondary, bob-PC-2 a device that
/// logged in with bob's password and was never approved, and an intruder (the server, say) with
/// keys of its own.
@Suite struct ContactRosterBookTests {
    static let pc1 = DeviceIdentity(seed: [UInt8](repeating: 11, count: 32))!
    static let mp1 = DeviceIdentity(seed: [UInt8](repeating: 12, count: 32))!
    static let pc2 = DeviceIdentity(seed: [UInt8](repeating: 13, count: 32))!
    static let intruderKey = DeviceIdentity(seed: [UInt8](repeating: 14, count: 32))!
    static let recovery = RecoveryKey(secret: [UInt8](repeating: 15, count: 16))!
    static let recovery2 = RecoveryKey(secret: [UInt8](repeating: 16, count: 16))!
    static let intruderRecovery = RecoveryKey(secret: [UInt8](repeating: 17, count: 16))!

    static func member(_ id: String, _ identity: DeviceIdentity, _ role: RosterRole = .secondary) -> RosterMember {
        RosterMember(deviceID: id, key: identity.publicKey, role: role, name: id)
    }

    static let desktop = member("bob-PC-1", pc1, .primary)
    static let phone = member("bob-MP-1", mp1)
    static let spare = member("bob-PC-2", pc2)

    static func roster(_ version: UInt64, _ members: [RosterMember], epoch: UInt32 = 0,
                       recoveryKey: SigningPublicKey = recovery.publicKey, account: String = "bob") -> Roster {
        Roster(account: account, epoch: epoch, version: version, issuedAtMillis: 1_700_000_000_000 + version,
               devices: members.map(\.wire), recoveryKey: recoveryKey.rawValue)
    }

    static func sign(_ roster: Roster, _ key: some DocumentSigner, as signer: String) -> SignedDocument {
        try! RosterSigning.sign(roster, signer: signer, with: key)
    }

    static let first = sign(roster(1, [desktop]), pc1, as: "bob-PC-1")
    static let withPhone = sign(roster(2, [desktop, phone]), pc1, as: "bob-PC-1")

    static func pinned(_ documents: [SignedDocument] = [first, withPhone]) -> ContactRosterBook {
        var book = ContactRosterBook(account: "bob")
        for document in documents {
            guard case .accepted = book.consider(document) else { preconditionFailure("setup document refused") }
        }
        return book
    }

    /// An intruder's roster for bob: consistent, signed by the primary it names, a key bob's chain never had.
    static func intruderRoster(version: UInt64 = 3, id: String = "bob-PC-3") -> SignedDocument {
        sign(roster(version, [member(id, intruderKey, .primary)], recoveryKey: intruderRecovery.publicKey), intruderKey, as: id)
    }

    @Test func theFirstRosterIsPinnedAndOnlyItsDevicesAreApproved() {
        var book = ContactRosterBook(account: "bob")
        #expect(book.trust == .noRoster && !book.maySend)
        guard case .accepted(let change) = book.consider(Self.withPhone) else { Issue.record("refused"); return }
        #expect(change.previous == nil)
        #expect(book.trust == .unverified && book.maySend)
        #expect(book.isApproved(deviceID: "bob-MP-1", key: Self.mp1.publicKey))
        #expect(!book.isApproved(deviceID: "bob-PC-2", key: Self.pc2.publicKey), "logged in, never approved")
        #expect(!book.isApproved(deviceID: "bob-MP-1", key: Self.pc2.publicKey), "the right id with another key")
        #expect(book.knownPrimaries == [Self.pc1.publicKey])
    }

    @Test func aFirstRosterMustBeSignedByItsOwnPrimaryOrRecoveryKey() {
        var book = ContactRosterBook(account: "bob")
        let bySecondary = Self.sign(Self.roster(2, [Self.desktop, Self.phone]), Self.mp1, as: "bob-MP-1")
        let bySecondaryDecision = book.consider(bySecondary)
        #expect(bySecondaryDecision == .refused(.firstRosterSigner(signer: "bob-MP-1", primary: "bob-PC-1")))
        var forged = Self.withPhone
        forged.signature[0] ^= 1
        let forgedDecision = book.consider(forged)
        #expect(forgedDecision == .refused(.badSignature(signer: "bob-PC-1")))
        let alices = Self.sign(Self.roster(1, [Self.desktop], account: "alice"), Self.pc1, as: "bob-PC-1")
        let wrongAccountDecision = book.consider(alices)
        #expect(wrongAccountDecision == .refused(.wrongAccount(expected: "bob", found: "alice")))
        #expect(book.trust == .noRoster)
        let byRecovery = Self.sign(Self.roster(1, [Self.desktop]), Self.recovery, as: RosterSigning.recoverySigner)
        guard case .accepted = book.consider(byRecovery) else { Issue.record("refused a first roster its recovery key signed"); return }
    }

    @Test func approvalsRevocationsHandOversAndRecoveriesFollowWithoutAWarning() throws {
        var book = Self.pinned()
        let verified = book.markVerified()
        #expect(verified)
        // bob approves bob-PC-2.
        let approved = Self.sign(Self.roster(3, [Self.desktop, Self.phone, Self.spare]), Self.pc1, as: "bob-PC-1")
        guard case .accepted(let added) = book.consider(approved) else { Issue.record("approval refused"); return }
        #expect(added.added.map(\.deviceID) == ["bob-PC-2"])
        #expect(book.isApproved(deviceID: "bob-PC-2", key: Self.pc2.publicKey))
        // ...and revocations his phone: it stops being approved at once.
        let revoked = Self.sign(Self.roster(4, [Self.desktop, Self.spare]), Self.pc1, as: "bob-PC-1")
        guard case .accepted(let removed) = book.consider(revoked) else { Issue.record("revoke refused"); return }
        #expect(removed.removed.map(\.deviceID) == ["bob-MP-1"])
        #expect(!book.isApproved(deviceID: "bob-MP-1", key: Self.mp1.publicKey))
        // A hand-over to bob-PC-2, then a roster the new primary signs.
        let current = try ValidRoster(RosterSigning.roster(in: revoked))
        let handedOver = Self.sign(try current.handingOver(to: "bob-PC-2", issuedAtMillis: 5), Self.pc1, as: "bob-PC-1")
        guard case .accepted(let handOver) = book.consider(handedOver) else { Issue.record("hand-over refused"); return }
        #expect(handOver.primaryChanged)
        let resigned = Self.sign(Self.roster(6, [Self.member("bob-PC-2", Self.pc2, .primary), Self.member("bob-PC-1", Self.pc1)]),
                                 Self.pc2, as: "bob-PC-2")
        guard case .accepted = book.consider(resigned) else { Issue.record("the new primary's roster refused"); return }
        // The old primary's signature no longer counts, and is not taken for a key change either.
        let byFormer = Self.sign(Self.roster(7, [Self.desktop]), Self.pc1, as: "bob-PC-1")
        let formerPrimaryDecision = book.consider(byFormer)
        #expect(formerPrimaryDecision == .refused(.signerNotPrimary(signer: "bob-PC-1", held: "roster 6", primary: "bob-PC-2")))
        // A recovery to the desktop (epoch 1, a new recovery key), signed with the recovery key.
        let recovered = Self.sign(Self.roster(1, [Self.desktop, Self.spare], epoch: 1, recoveryKey: Self.recovery2.publicKey),
                                  Self.recovery, as: RosterSigning.recoverySigner)
        guard case .accepted(let recovery) = book.consider(recovered) else { Issue.record("recovery refused"); return }
        #expect(recovery.byRecovery)
        #expect(book.trust == .verified, "the chain proves every step: the verification stands")
        #expect(book.current?.label == "roster 1 of epoch 1")
    }

    @Test func repeatsAndReplaysChangeNothing() {
        var book = Self.pinned()
        let again = book.consider(Self.withPhone)
        #expect(again == .unchanged)
        let replay = book.consider(Self.first)
        #expect(replay == .refused(.notNewer(epoch: 0, version: 1, heldEpoch: 0, heldVersion: 2)),
                "an older roster of a known primary is a replay, not a key change")
        #expect(book.trust == .unverified && book.current?.version == 2)
    }

    @Test func aRosterUnderAnUnknownKeyStopsMessagesUntilTheUserTrustsIt() {
        var book = Self.pinned()
        let verified = book.markVerified()
        #expect(verified)
        // The intruder's roster, at any version (an account made anew starts at version 1).
        for version: UInt64 in [1, 3] {
            var fresh = book
            guard case .keyChanged(let roster) = fresh.consider(Self.intruderRoster(version: version)) else {
                Issue.record("an unknown key taken or refused silently (version \(version))")
                return
            }
            #expect(roster.primary.key == Self.intruderKey.publicKey)
            #expect(fresh.trust == .keyChanged(wasVerified: true) && !fresh.maySend)
            #expect(fresh.isApproved(deviceID: "bob-MP-1", key: Self.mp1.publicKey), "the held chain still names bob's devices")
            #expect(!fresh.isApproved(deviceID: "bob-PC-3", key: Self.intruderKey.publicKey))
            let verifiedWhileWaiting = fresh.markVerified()
            #expect(!verifiedWhileWaiting, "a contact is not verified while a key change waits")
            let sameChangeAgain = fresh.consider(Self.intruderRoster(version: version))
            #expect(sameChangeAgain == .unchanged, "the same change again")
        }
        _ = book.consider(Self.intruderRoster())
        // The user compared the code and accepts it: unverified, the intruder's devices approved, bob's not.
        let change = book.trustNewKey()
        #expect(change?.removed.map(\.deviceID) == ["bob-PC-1", "bob-MP-1"])
        #expect(book.trust == .unverified && book.maySend)
        #expect(book.isApproved(deviceID: "bob-PC-3", key: Self.intruderKey.publicKey))
        #expect(!book.isApproved(deviceID: "bob-MP-1", key: Self.mp1.publicKey))
        let nothingWaits = book.trustNewKey()
        #expect(nothingWaits == nil, "nothing waits any more")
        // The old chain, sent again after the next login, is a replay now.
        guard case .refused = book.consider(Self.withPhone) else { Issue.record("the old chain displaced the trusted one"); return }
    }

    @Test func aForgeryThatDoesNotVerifyIsRefusedNotOfferedAsAKeyChange() {
        var book = Self.pinned()
        // The primary's id, the next version, an intruder's device added, signed by the intruder.
        let forged = Self.sign(Self.roster(3, [Self.desktop, Self.phone, Self.member("bob-PC-3", Self.intruderKey)]),
                               Self.intruderKey, as: "bob-PC-1")
        let forgedDecision = book.consider(forged)
        #expect(forgedDecision == .refused(.badSignature(signer: "bob-PC-1")))
        #expect(book.trust == .unverified && book.maySend)
    }

    @Test func aGenuineSuccessorClearsAWaitingKeyChange() {
        var book = Self.pinned()
        _ = book.consider(Self.intruderRoster())
        let next = Self.sign(Self.roster(3, [Self.desktop, Self.phone, Self.spare]), Self.pc1, as: "bob-PC-1")
        guard case .accepted = book.consider(next) else { Issue.record("bob's own next roster refused"); return }
        #expect(book.trust == .unverified && book.maySend && book.pendingChange == nil)
    }

    @Test func theBookRestoresWhatItStored() throws {
        var book = Self.pinned()
        let verified = book.markVerified()
        #expect(verified)
        _ = book.consider(Self.intruderRoster())
        let restored = try ContactRosterBook(account: "bob", restoring: book.document!, verified: book.verified,
                                             knownPrimaries: book.knownPrimaries, pending: book.pendingChange)
        #expect(restored.trust == .keyChanged(wasVerified: true))
        #expect(restored.current == book.current && restored.pendingRoster == book.pendingRoster)
        #expect(throws: RosterRefusal.self) {
            _ = try ContactRosterBook(account: "carol", restoring: Self.first, verified: false, knownPrimaries: [], pending: nil)
        }
    }

    @Test func theSafetyCodeIsTheSameOnBothSidesAndSurvivesAHandOver() {
        let alice = SafetyCode.Side(account: "alice", recoveryKey: Self.recovery2.publicKey)
        let bob = SafetyCode.Side(account: "bob", recoveryKey: Self.recovery.publicKey)
        let code = SafetyCode(alice, bob)
        #expect(code == SafetyCode(bob, alice))
        #expect(code.description.count == 47 && code.description.split(separator: " ").count == 8)
        #expect(code.values.allSatisfy { $0 < 100_000 })
        // A hand-over keeps the recovery key, so the code; another recovery key (a recovery, an intruder) changes it.
        #expect(code != SafetyCode(alice, .init(account: "bob", recoveryKey: Self.intruderRecovery.publicKey)))
        #expect(code != SafetyCode(.init(account: "alicf", recoveryKey: Self.recovery2.publicKey), bob), "the names count too")
    }
}
