import Foundation
import KithCrypto
import KithTestSupport
import KithWire
import Testing
@testable import KithCore

/// The roster and policy rules of Protocol/roster.md, driven as scenarios: alice's laptop
/// (alice-PC-1) is the primary, her phone (alice-MP-1) and TV (alice-TV-1) secondaries,
/// alice-PC-2 a device that logged in but was never approved, and the server a party with a key
/// of its own that stores and forwards every document.
@Suite struct RosterTests {
    static let pc1 = DeviceIdentity(seed: [UInt8](repeating: 1, count: 32))!
    static let mp1 = DeviceIdentity(seed: [UInt8](repeating: 2, count: 32))!
    static let tv1 = DeviceIdentity(seed: [UInt8](repeating: 3, count: 32))!
    static let pc2 = DeviceIdentity(seed: [UInt8](repeating: 4, count: 32))!
    static let server = DeviceIdentity(seed: [UInt8](repeating: 5, count: 32))!
    static let recovery = RecoveryKey(secret: [UInt8](repeating: 6, count: 16))!
    static let recovery2 = RecoveryKey(secret: [UInt8](repeating: 7, count: 16))!
    static let now: UInt64 = 1_700_000_000_000

    static func member(_ id: String, _ identity: DeviceIdentity, _ role: RosterRole = .secondary) -> RosterMember {
        RosterMember(deviceID: id, key: identity.publicKey, role: role, name: "device \(id)")
    }

    static let laptop = member("alice-PC-1", pc1, .primary)
    static let phone = member("alice-MP-1", mp1)
    static let tv = member("alice-TV-1", tv1)
    static let intruder = member("alice-PC-2", pc2)

    static func roster(_ version: UInt64, _ members: [RosterMember], epoch: UInt32 = 0,
                       recoveryKey: SigningPublicKey = recovery.publicKey, account: String = "alice") -> Roster {
        Roster(account: account, epoch: epoch, version: version, issuedAtMillis: now &+ version,
               devices: members.map(\.wire), recoveryKey: recoveryKey.rawValue)
    }

    static func sign(_ roster: Roster, _ key: some DocumentSigner, as signer: String) -> SignedDocument {
        try! RosterSigning.sign(roster, signer: signer, with: key)
    }

    static func sign(_ policy: DevicePolicy, _ key: some DocumentSigner, as signer: String) -> SignedDocument {
        try! RosterSigning.sign(policy, signer: signer, with: key)
    }

    /// Roster 2: the laptop primary, the phone approved. Roster 3 adds the TV.
    static let v2 = sign(roster(2, [laptop, phone]), pc1, as: "alice-PC-1")
    static let v3 = sign(roster(3, [laptop, phone, tv]), pc1, as: "alice-PC-1")

    static func book(for who: RosterMember = phone, holding documents: [SignedDocument] = []) -> RosterBook {
        var book = RosterBook(account: "alice", holder: .init(deviceID: who.deviceID, key: who.key))
        for document in documents {
            guard case .accepted = book.consider(document) else { preconditionFailure("setup document refused") }
        }
        return book
    }

    static func refusal(_ decision: RosterDecision) -> RosterRefusal? {
        if case .refused(let refusal) = decision { return refusal }
        return nil
    }

    // MARK: First use

    @Test func firstRosterIsTakenOnTrustWhenItsPrimarySignedItAndItListsThisDevice() throws {
        var book = Self.book()
        #expect(!book.isApproved(deviceID: "alice-PC-1", key: Self.pc1.publicKey), "nothing is approved without a roster")
        guard case .accepted(let change) = book.consider(Self.v2) else { Issue.record("refused"); return }
        #expect(change.previous == nil && change.added.map(\.deviceID) == ["alice-PC-1", "alice-MP-1"])
        #expect(book.version == 2 && book.epoch == 0 && book.primary?.deviceID == "alice-PC-1")
        #expect(book.isApproved(deviceID: "alice-PC-1", key: Self.pc1.publicKey))
        #expect(!book.isApproved(deviceID: "alice-PC-1", key: Self.pc2.publicKey), "same id, another key")
        #expect(!book.isApproved(deviceID: "alice-TV-1", key: Self.tv1.publicKey))
        #expect(book.role(of: "alice-MP-1") == .secondary && book.role(of: "alice-PC-1") == .primary)
        #expect(!book.holderIsPrimary)
        #expect(book.document == Self.v2)
    }

    @Test func firstRosterRefusals() {
        var book = Self.book()
        let alone = Self.sign(Self.roster(1, [Self.laptop]), Self.pc1, as: "alice-PC-1")
        #expect(Self.refusal(book.consider(alone)) == .notForThisDevice(deviceID: "alice-MP-1", roster: "roster 1"))
        let bySecondary = Self.sign(Self.roster(2, [Self.laptop, Self.phone]), Self.mp1, as: "alice-MP-1")
        #expect(Self.refusal(book.consider(bySecondary)) == .firstRosterSigner(signer: "alice-MP-1", primary: "alice-PC-1"))
        let byServer = Self.sign(Self.roster(2, [Self.laptop, Self.phone]), Self.server, as: "alice-PC-1")
        #expect(Self.refusal(book.consider(byServer)) == .badSignature(signer: "alice-PC-1"))
        var impostor = Self.phone
        impostor.key = Self.pc2.publicKey
        let wrongKey = Self.sign(Self.roster(2, [Self.laptop, impostor]), Self.pc1, as: "alice-PC-1")
        #expect(Self.refusal(book.consider(wrongKey))?.name == "notForThisDevice")
        #expect(book.current == nil, "a refusal changes nothing")
    }

    @Test func theServerObservesWithoutAHolder() {
        var book = RosterBook(account: "alice", holder: nil)
        let first = Self.sign(Roster.first(account: "alice", primary: Self.laptop, recoveryKey: Self.recovery.publicKey,
                                           issuedAtMillis: Self.now), Self.pc1, as: "alice-PC-1")
        guard case .accepted = book.consider(first) else { Issue.record("refused"); return }
        #expect(book.pending(in: [Self.info(Self.laptop), Self.info(Self.phone)]).map(\.deviceID) == ["alice-MP-1"])
    }

    static func info(_ m: RosterMember) -> DeviceInfo {
        DeviceInfo(deviceID: m.deviceID, name: m.name, terminalType: .pc, key: m.key.rawValue, online: true,
                   lastSeenMillis: 0, clientVersion: "kith/test")
    }

    // MARK: Successors and forgeries

    @Test func thePrimaryAddsAndRevokesDevices() throws {
        var book = Self.book(holding: [Self.v2])
        guard case .accepted(let added) = book.consider(Self.v3) else { Issue.record("refused"); return }
        #expect(added.added == [Self.tv] && added.removed.isEmpty && !added.primaryChanged)
        let current = try #require(book.current)
        let v4 = Self.sign(try current.removing("alice-TV-1", issuedAtMillis: Self.now), Self.pc1, as: "alice-PC-1")
        guard case .accepted(let removed) = book.consider(v4) else { Issue.record("refused"); return }
        #expect(removed.removed == [Self.tv] && removed.current.version == 4)
        #expect(!book.isApproved(deviceID: "alice-TV-1", key: Self.tv1.publicKey))
        #expect(book.consider(v4) == .unchanged)
    }

    /// A device of the master account joins as linked (Protocol/links.md §The linked role), a
    /// device of the account as a secondary; a hand-over leaves an old primary of the master's linked.
    @Test func aDeviceOfAnotherAccountIsApprovedAsLinked() throws {
        var book = Self.book(holding: [Self.v2])
        let current = try #require(book.current)
        #expect(current.governedRole(of: "alice-TV-1") == .secondary)
        #expect(current.governedRole(of: "alice.home-PC-1") == .linked)
        let masterKey = DeviceIdentity(seed: [UInt8](repeating: 77, count: 32))!.publicKey
        let v3 = Self.sign(try current.approving(deviceID: "alice.home-PC-1", key: masterKey, name: "home laptop",
                                                 issuedAtMillis: Self.now), Self.pc1, as: "alice-PC-1")
        guard case .accepted(let change) = book.consider(v3) else { Issue.record("refused"); return }
        #expect(change.current.member("alice.home-PC-1")?.role == .linked)
        #expect(book.isApproved(deviceID: "alice.home-PC-1", key: masterKey))
        let handed = try change.current.handingOver(to: "alice.home-PC-1", issuedAtMillis: Self.now)
        let back = try ValidRoster(handed).handingOver(to: "alice-PC-1", issuedAtMillis: Self.now)
        #expect(try ValidRoster(back).member("alice.home-PC-1")?.role == .linked)
        #expect(try ValidRoster(handed).member("alice-PC-1")?.role == .secondary)
        #expect(RosterRole.linked.isGoverned && RosterRole.secondary.isGoverned && !RosterRole.primary.isGoverned)
        // Unlinked, or under another master now: the old master's devices leave; the new one's stay.
        let linked = try ValidRoster(RosterSigning.roster(in: v3))
        #expect(linked.releasingLinkedDevices(keeping: nil)?.map(\.deviceID) == ["alice-PC-1", "alice-MP-1"])
        #expect(linked.releasingLinkedDevices(keeping: "alice.home") == nil)
    }

    @Test func forgedRostersAreRefusedWithAReason() {
        var book = Self.book(holding: [Self.v2])
        let withIntruder = Self.roster(3, [Self.laptop, Self.phone, Self.intruder])
        let cases: [(SignedDocument, RosterRefusal, String)] = [
            (Self.sign(withIntruder, Self.pc2, as: "alice-PC-2"),
             .signerNotPrimary(signer: "alice-PC-2", held: "roster 2", primary: "alice-PC-1"),
             "signed by alice-PC-2, which is not the primary of roster 2 (alice-PC-1)"),
            (Self.sign(withIntruder, Self.mp1, as: "alice-MP-1"),
             .signerNotPrimary(signer: "alice-MP-1", held: "roster 2", primary: "alice-PC-1"),
             "signed by alice-MP-1, which is not the primary of roster 2 (alice-PC-1)"),
            (Self.sign(withIntruder, Self.server, as: "alice-PC-1"), .badSignature(signer: "alice-PC-1"),
             "bad signature (signer alice-PC-1)"),
            (Self.sign(withIntruder, Self.server, as: "server"),
             .signerNotPrimary(signer: "server", held: "roster 2", primary: "alice-PC-1"),
             "signed by server, which is not the primary of roster 2 (alice-PC-1)"),
            (Self.sign(withIntruder, Self.pc2, as: "recovery"), .badSignature(signer: "recovery"),
             "bad signature (signer recovery)"),
            (Self.sign(Self.roster(1, [Self.laptop, Self.phone]), Self.pc1, as: "alice-PC-1"),
             .notNewer(epoch: 0, version: 1, heldEpoch: 0, heldVersion: 2), "version 1 is not newer than 2"),
            (Self.sign(Self.roster(2, [Self.laptop, Self.phone, Self.intruder]), Self.pc1, as: "alice-PC-1"),
             .notNewer(epoch: 0, version: 2, heldEpoch: 0, heldVersion: 2), "version 2 is not newer than 2"),
            (Self.sign(Self.roster(3, [Self.laptop, Self.phone], account: "bob"), Self.pc1, as: "alice-PC-1"),
             .wrongAccount(expected: "alice", found: "bob"), "roster is for account bob, not alice"),
        ]
        for (document, refusal, line) in cases {
            #expect(Self.refusal(book.consider(document)) == refusal)
            #expect(refusal.description == line)
        }
        #expect(book.version == 2 && !book.isApproved(deviceID: "alice-PC-2", key: Self.pc2.publicKey))
    }

    @Test func aRemovedDeviceCannotSignItselfBackIn() {
        let v4 = Self.sign(Self.roster(4, [Self.laptop, Self.phone]), Self.pc1, as: "alice-PC-1")
        var book = Self.book(holding: [Self.v2, Self.v3, v4])
        let back = Self.sign(Self.roster(5, [Self.laptop, Self.phone, Self.tv]), Self.tv1, as: "alice-TV-1")
        #expect(Self.refusal(book.consider(back))?.name == "signerNotPrimary")
        #expect(Self.refusal(book.consider(Self.v3)) == .notNewer(epoch: 0, version: 3, heldEpoch: 0, heldVersion: 4),
                "the roster that still listed it, replayed")
    }

    @Test func aTamperedBodyOrSignatureIsABadSignature() throws {
        var book = Self.book(holding: [Self.v2])
        var body = Self.v3
        let name = Array("device alice-TV-1".utf8)
        let at = try #require(body.body.indices.first { body.body[$0...].starts(with: name) })
        body.body[at] ^= 0x20  // "Device alice-TV-1"
        #expect(Self.refusal(book.consider(body)) == .badSignature(signer: "alice-PC-1"))
        var signature = Self.v3
        signature.signature[10] ^= 1
        #expect(Self.refusal(book.consider(signature)) == .badSignature(signer: "alice-PC-1"))
        var kind = Self.v3
        kind.kind = .policy
        #expect(Self.refusal(book.consider(kind)) == .wrongKind(.policy))
        #expect(!RosterSigning.signatureIsValid(kind, key: Self.pc1.publicKey), "the domain string separates the kinds")
    }

    // MARK: Hand-over and recovery

    @Test func handOverMovesTheRightToSign() throws {
        var tvBook = Self.book(for: Self.tv, holding: [Self.v3])
        let v4 = Self.sign(try #require(tvBook.current).handingOver(to: "alice-MP-1", issuedAtMillis: Self.now),
                           Self.pc1, as: "alice-PC-1")
        guard case .accepted(let change) = tvBook.consider(v4) else { Issue.record("refused"); return }
        #expect(change.primaryChanged && !change.byRecovery && tvBook.primary?.deviceID == "alice-MP-1")
        #expect(tvBook.role(of: "alice-PC-1") == .secondary)

        let oldPrimaryTries = Self.sign(Self.roster(5, [Self.laptop, Self.tv]), Self.pc1, as: "alice-PC-1")
        #expect(Self.refusal(tvBook.consider(oldPrimaryTries))
            == .signerNotPrimary(signer: "alice-PC-1", held: "roster 4", primary: "alice-MP-1"))
        let newPrimary = Self.sign(try #require(tvBook.current).removing("alice-PC-1", issuedAtMillis: Self.now),
                                   Self.mp1, as: "alice-MP-1")
        guard case .accepted = tvBook.consider(newPrimary) else { Issue.record("refused"); return }

        // The phone itself takes the hand-over and is then the primary.
        var phoneBook = Self.book(holding: [Self.v3])
        _ = phoneBook.consider(v4)
        #expect(phoneBook.holderIsPrimary)

        // A device meeting the hand-over roster first cannot check it: the new primary re-signs.
        var fresh = Self.book(for: Self.tv)
        #expect(Self.refusal(fresh.consider(v4)) == .firstRosterSigner(signer: "alice-PC-1", primary: "alice-MP-1"))
    }

    @Test func recoveryNamesANewPrimaryInTheNextEpoch() throws {
        var book = Self.book(for: Self.tv, holding: [Self.v3])
        let held = try #require(book.current)
        let recovered = try held.recovering(newPrimary: Self.phone, newRecoveryKey: Self.recovery2.publicKey, issuedAtMillis: Self.now)
        #expect(recovered.epoch == 1 && recovered.version == 1)

        #expect(Self.refusal(book.consider(Self.sign(recovered, Self.recovery2, as: "recovery"))) == .badSignature(signer: "recovery"))
        var sameEpoch = recovered
        sameEpoch.epoch = 0
        sameEpoch.version = 4
        #expect(Self.refusal(book.consider(Self.sign(sameEpoch, Self.recovery, as: "recovery"))) == .epochNotRaised(epoch: 0))
        #expect(Self.refusal(book.consider(Self.sign(recovered, Self.pc1, as: "alice-PC-1"))) == .epochChanged(from: 0, to: 1))
        var rotated = Self.roster(4, [Self.laptop, Self.phone, Self.tv], recoveryKey: Self.recovery2.publicKey)
        #expect(Self.refusal(book.consider(Self.sign(rotated, Self.pc1, as: "alice-PC-1"))) == .recoveryKeyChanged,
                "a stolen primary cannot lock the owner out")

        guard case .accepted(let change) = book.consider(Self.sign(recovered, Self.recovery, as: "recovery")) else {
            Issue.record("refused"); return
        }
        #expect(change.byRecovery && change.primaryChanged && change.removed == [Self.laptop])
        #expect(book.primary?.deviceID == "alice-MP-1" && book.epoch == 1)
        #expect(book.current?.label == "roster 1 of epoch 1")

        // The lost laptop is out, whatever version it uses; the old recovery key is spent.
        let late = Self.sign(Self.roster(UInt64.max, [Self.laptop, Self.tv]), Self.pc1, as: "alice-PC-1")
        #expect(Self.refusal(book.consider(late))?.description == "roster 18446744073709551615 is not newer than roster 1 of epoch 1")
        rotated = Self.roster(9, [Self.laptop, Self.tv], epoch: 1, recoveryKey: Self.recovery2.publicKey)
        #expect(Self.refusal(book.consider(Self.sign(rotated, Self.pc1, as: "alice-PC-1")))?.name == "signerNotPrimary")
        let spent = Self.sign(Self.roster(9, [Self.member("alice-TV-1", Self.tv1, .primary)], epoch: 2), Self.recovery, as: "recovery")
        #expect(Self.refusal(book.consider(spent)) == .badSignature(signer: "recovery"))
    }

    @Test func recoveryStillWorksAfterAThiefUsedTheLastVersion() {
        let last = Self.sign(Self.roster(UInt64.max, [Self.laptop, Self.phone, Self.tv]), Self.pc1, as: "alice-PC-1")
        var book = Self.book(for: Self.tv, holding: [Self.v3, last])
        let fresh = Self.roster(1, [Self.member("alice-MP-1", Self.mp1, .primary), Self.tv], epoch: 1,
                                recoveryKey: Self.recovery2.publicKey)
        #expect(throws: RosterEditError.versionExhausted) {
            _ = try book.current!.approving(deviceID: "alice-PC-2", key: Self.pc2.publicKey, name: "x", issuedAtMillis: 0)
        }
        guard case .accepted = book.consider(Self.sign(fresh, Self.recovery, as: "recovery")) else { Issue.record("refused"); return }
    }

    @Test func aNewDeviceRecoveringTakesItsOwnRecoveryRosterFirst() {
        var book = Self.book(for: Self.member("alice-PC-3", Self.pc2))
        let mine = Self.roster(5, [Self.member("alice-PC-3", Self.pc2, .primary), Self.phone], epoch: 1)
        guard case .accepted = book.consider(Self.sign(mine, Self.recovery, as: "recovery")) else { Issue.record("refused"); return }
        #expect(book.holderIsPrimary)
    }

    // MARK: Structure and bytes

    @Test func structurallyInvalidRostersAreRefused() {
        var book = Self.book(holding: [Self.v2])
        let laptop2 = Self.member("alice-PC-1", Self.pc1, .primary)
        var zeroKey = Self.tv
        zeroKey.key = SigningPublicKey(rawValue: [UInt8](repeating: 0, count: 32))!
        var badRole = Self.tv.wire
        badRole.role = .unknown(9)
        let cases: [([RosterDevice], [UInt8], RosterProblem)] = [
            ([laptop2.wire, Self.member("alice-MP-1", Self.mp1, .primary).wire], Self.recovery.publicKey.rawValue,
             .severalPrimaries(["alice-PC-1", "alice-MP-1"])),
            ([Self.phone.wire, Self.tv.wire], Self.recovery.publicKey.rawValue, .noPrimary),
            ([laptop2.wire, Self.phone.wire, Self.member("alice-MP-1", Self.tv1).wire], Self.recovery.publicKey.rawValue,
             .duplicateDeviceID("alice-MP-1")),
            ([laptop2.wire, Self.phone.wire, Self.member("alice-MP-2", Self.mp1).wire], Self.recovery.publicKey.rawValue,
             .duplicateKey(deviceID: "alice-MP-2", sameAs: "alice-MP-1")),
            ([laptop2.wire, badRole], Self.recovery.publicKey.rawValue, .unknownRole(deviceID: "alice-TV-1", role: 9)),
            ([laptop2.wire, Self.member("recovery", Self.tv1).wire], Self.recovery.publicKey.rawValue, .badDeviceID("recovery")),
            ([laptop2.wire, Self.member("", Self.tv1).wire], Self.recovery.publicKey.rawValue, .badDeviceID("")),
            ([laptop2.wire, zeroKey.wire], Self.recovery.publicKey.rawValue, .unusableKey(deviceID: "alice-TV-1")),
            ([laptop2.wire, Self.phone.wire], [UInt8](repeating: 0, count: 32), .unusableKey(deviceID: "recovery")),
        ]
        for (devices, recoveryKey, problem) in cases {
            let roster = Roster(account: "alice", epoch: 0, version: 3, issuedAtMillis: 0, devices: devices, recoveryKey: recoveryKey)
            #expect(Self.refusal(book.consider(Self.sign(roster, Self.pc1, as: "alice-PC-1"))) == .invalid(problem))
        }
        #expect(book.version == 2)
    }

    /// Every prefix of an encoded document, every byte flipped two ways: a typed refusal each
    /// time, never a crash, never an acceptance.
    @Test func everyCutAndEveryFlippedByteIsRefused() throws {
        let bytes = try RosterSigning.encode(Self.v3)
        var refusals: [String: Int] = [:]
        for n in 0..<bytes.count {
            var book = Self.book(holding: [Self.v2])
            guard case .refused(let refusal) = book.consider(encoded: bytes.prefix(n)) else {
                Issue.record("prefix of \(n) bytes was not refused"); continue
            }
            refusals[refusal.name, default: 0] += 1
        }
        for i in bytes.indices {
            for mask: UInt8 in [0x01, 0x80] {
                var flipped = bytes
                flipped[i] ^= mask
                var book = Self.book(holding: [Self.v2])
                guard case .refused(let refusal) = book.consider(encoded: flipped) else {
                    Issue.record("byte \(i) ^ \(mask) was not refused"); continue
                }
                refusals[refusal.name, default: 0] += 1
            }
        }
        #expect(Set(refusals.keys).isSubset(of: ["malformed", "wrongKind", "badSignature", "signerNotPrimary",
                                                  "invalidRoster", "wrongAccount", "notNewer"]))
        var book = Self.book(holding: [Self.v2])
        guard case .accepted = book.consider(encoded: bytes) else { Issue.record("the untouched document was refused"); return }
    }

    @Test func oversizedDocumentsAreRefusedByTheirLimits() throws {
        var book = Self.book(holding: [Self.v2])
        var big = Self.v3
        big.body += [UInt8](repeating: 0, count: 32768)
        #expect(Self.refusal(book.consider(big)) == .malformed(.oversized("body: \(big.body.count) bytes, limit 32768")))
        let many = (0..<65).map { Self.member("alice-TV-\($0)", DeviceIdentity(seed: [UInt8](repeating: UInt8($0 + 10), count: 32))!) }
        var tooMany = Self.roster(3, [Self.laptop] + many)
        #expect(throws: WireError.self) { _ = try RosterSigning.sign(tooMany, signer: "alice-PC-1", with: Self.pc1) }
        tooMany.devices.removeLast(2)  // the primary and 63 others: 64, the limit
        guard case .accepted = book.consider(Self.sign(tooMany, Self.pc1, as: "alice-PC-1")) else { Issue.record("refused"); return }
        var junk = SignedDocument(kind: .roster, body: [0, 1, 0, 0], signer: "alice-PC-1", signature: [UInt8](repeating: 0, count: 64))
        #expect(Self.refusal(book.consider(junk))?.name == "malformed")
        junk.signature = [1]
        #expect(Self.refusal(book.consider(junk)) == .malformed(.malformed("signature: 1 bytes, must be 64")))
    }

    /// The largest roster and policy the schema allows still fit the body limit, and a signed
    /// document of that size fits a relayed device message (60000 bytes).
    @Test func theLargestDocumentsFit() throws {
        let id80 = { (n: Int) in String(repeating: "d", count: 76) + String(format: "%04d", n) }
        let devices = (0..<64).map { n in
            RosterDevice(deviceID: id80(n), key: [UInt8](repeating: UInt8(n), count: 32), role: n == 0 ? .primary : .secondary,
                         name: String(repeating: "n", count: 64))
        }
        let roster = Roster(account: String(repeating: "a", count: 64), epoch: .max, version: .max, issuedAtMillis: .max,
                            devices: devices, recoveryKey: [UInt8](repeating: 9, count: 32))
        let rosterBody = try RosterSigning.body(of: roster)
        let folder = String(repeating: "f", count: 256)
        let policy = DevicePolicy(
            account: String(repeating: "a", count: 64), deviceID: id80(99), epoch: .max, version: .max, issuedAtMillis: .max,
            receive: (0..<64).map { ReceiveRule(sender: id80($0), permission: .direct, folder: folder) },
            siblingsReceive: .direct, siblingsFolder: folder, push: .onlyListed, pushTo: (0..<64).map(id80), messages: .notify,
            keepHistory: true, mayApprove: true)
        let policyBody = try RosterSigning.body(of: policy)
        #expect(rosterBody.count <= 32768 && policyBody.count <= 32768)
        let signed = try RosterSigning.sign(kind: .policy, body: policyBody, signer: id80(0), with: Self.pc1)
        #expect(try RosterSigning.encode(signed).count + 100 < 60000)
        #expect(try DevicePolicy(fields: FieldReader(policyBody[...])) == policy, "within the 256-field limit")
        print("roster sizes: largest roster body \(rosterBody.count) bytes, largest policy body \(policyBody.count) bytes")
    }

    @Test func aBookRestoresFromItsStoredDocument() throws {
        let stored = try RosterSigning.encode(Self.v3)
        let document = try RosterSigning.decodeDocument(stored)
        let holder = RosterBook.Holder(deviceID: "alice-MP-1", key: Self.mp1.publicKey)
        var book = try RosterBook(account: "alice", holder: holder, restoring: document)
        #expect(book.version == 3 && book.isApproved(deviceID: "alice-TV-1", key: Self.tv1.publicKey))
        #expect(book.consider(Self.v3) == .unchanged)
        #expect(throws: RosterRefusal.wrongAccount(expected: "bob", found: "alice")) {
            _ = try RosterBook(account: "bob", holder: holder, restoring: document)
        }
    }

    // MARK: Policies

    static func policy(for device: String, version: UInt64, epoch: UInt32 = 0,
                       _ edit: (inout DevicePermissions) -> Void = { _ in }) -> DevicePolicy {
        var permissions = DevicePermissions()
        edit(&permissions)
        return permissions.policy(account: "alice", deviceID: device, epoch: epoch, version: version, issuedAtMillis: now)
    }

    static func policyRefusal(_ decision: PolicyDecision) -> PolicyRefusal? {
        if case .refused(let refusal) = decision { return refusal }
        return nil
    }

    @Test func aPolicyFromThePrimaryGovernsTheSecondary() throws {
        let roster = Self.book(holding: [Self.v2, Self.v3])
        var policies = PolicyBook(account: "alice")
        #expect(policies.permissions(of: "alice-MP-1", roster: roster) == nil, "no policy: its own settings")
        let direct = Self.sign(Self.policy(for: "alice-MP-1", version: 1) {
            $0.receive.rules["alice-PC-1"] = .init(.direct, folder: "/srv/in")
        }, Self.pc1, as: "alice-PC-1")
        guard case .accepted(let accepted, nil) = policies.consider(direct, roster: roster) else { Issue.record("refused"); return }
        #expect(accepted.permissions.receive.decide(sender: "alice-PC-1", isSibling: true, requested: .direct) == .land(folder: "/srv/in"))
        #expect(policies.consider(direct, roster: roster) == .unchanged)

        // direct → reject: the next push from the laptop is refused.
        let reject = Self.sign(Self.policy(for: "alice-MP-1", version: policies.nextVersion(for: "alice-MP-1", epoch: 0)) {
            $0.receive.rules["alice-PC-1"] = .init(.reject)
        }, Self.pc1, as: "alice-PC-1")
        guard case .accepted(_, let previous?) = policies.consider(reject, roster: roster) else { Issue.record("refused"); return }
        #expect(previous.document == direct)
        let permissions = try #require(policies.permissions(of: "alice-MP-1", roster: roster))
        #expect(permissions.receive.decide(sender: "alice-PC-1", isSibling: true, requested: .direct)
            == .reject(reason: "this device does not accept files from alice-PC-1"))
        #expect(permissions.receive.decide(sender: "alice-TV-1", isSibling: true, requested: .direct) == .land(folder: nil))
        #expect(permissions.receive.decide(sender: "bob-PC-1", isSibling: false, requested: .direct) != .land(folder: nil))
        #expect(Self.policyRefusal(policies.consider(direct, roster: roster))
            == .notNewer(deviceID: "alice-MP-1", version: 1, heldVersion: 2), "the old policy replayed")
    }

    @Test func forgedPoliciesAreRefusedAndTheOldOneStays() {
        let roster = Self.book(holding: [Self.v2, Self.v3])
        var policies = PolicyBook(account: "alice")
        let held = Self.sign(Self.policy(for: "alice-MP-1", version: 1) { $0.push = .none }, Self.pc1, as: "alice-PC-1")
        _ = policies.consider(held, roster: roster)
        let loose = Self.policy(for: "alice-MP-1", version: 2) { $0.mayApprove = true }
        let cases: [(SignedDocument, PolicyRefusal)] = [
            (Self.sign(loose, Self.mp1, as: "alice-MP-1"),
             .signerNotPrimary(signer: "alice-MP-1", roster: "roster 3", primary: "alice-PC-1")),
            (Self.sign(loose, Self.tv1, as: "alice-TV-1"),
             .signerNotPrimary(signer: "alice-TV-1", roster: "roster 3", primary: "alice-PC-1")),
            (Self.sign(loose, Self.server, as: "alice-PC-1"), .badSignature(signer: "alice-PC-1")),
            (Self.sign(Self.policy(for: "alice-PC-1", version: 1), Self.pc1, as: "alice-PC-1"), .governsPrimary(deviceID: "alice-PC-1")),
            (Self.sign(Self.policy(for: "alice-PC-2", version: 1), Self.pc1, as: "alice-PC-1"),
             .notInRoster(deviceID: "alice-PC-2", roster: "roster 3")),
            (Self.sign(Self.policy(for: "alice-MP-1", version: 2, epoch: 1), Self.pc1, as: "alice-PC-1"),
             .wrongEpoch(epoch: 1, rosterEpoch: 0)),
            (Self.v3, .wrongKind(.roster)),
        ]
        for (document, refusal) in cases {
            #expect(Self.policyRefusal(policies.consider(document, roster: roster)) == refusal)
        }
        #expect(policies.permissions(of: "alice-MP-1", roster: roster)?.push == DevicePermissions.Push.none)
        #expect(!policies.mayApprove("alice-MP-1", roster: roster) && policies.mayApprove("alice-PC-1", roster: roster))
        var empty = PolicyBook(account: "alice")
        #expect(Self.policyRefusal(empty.consider(held, roster: Self.book())) == .noRoster)
        var bad = Self.policy(for: "alice-MP-1", version: 2)
        bad.messages = .unknown(7)
        #expect(Self.policyRefusal(policies.consider(Self.sign(bad, Self.pc1, as: "alice-PC-1"), roster: roster))
            == .invalid(.unknownValue(field: "messages", value: 7)))
    }

    @Test func afterAHandOverOnlyTheNewPrimarySetsPolicies() throws {
        var roster = Self.book(holding: [Self.v2, Self.v3])
        var policies = PolicyBook(account: "alice")
        _ = policies.consider(Self.sign(Self.policy(for: "alice-MP-1", version: 1), Self.pc1, as: "alice-PC-1"), roster: roster)
        let handOver = Self.sign(try #require(roster.current).handingOver(to: "alice-TV-1", issuedAtMillis: Self.now),
                                 Self.pc1, as: "alice-PC-1")
        _ = roster.consider(handOver)
        let byOld = Self.sign(Self.policy(for: "alice-MP-1", version: 2), Self.pc1, as: "alice-PC-1")
        #expect(Self.policyRefusal(policies.consider(byOld, roster: roster))?.name == "signerNotPrimary")
        let byNew = Self.sign(Self.policy(for: "alice-MP-1", version: 2) { $0.messages = .silent }, Self.tv1, as: "alice-TV-1")
        guard case .accepted = policies.consider(byNew, roster: roster) else { Issue.record("refused"); return }
        #expect(policies.permissions(of: "alice-MP-1", roster: roster)?.messages == .silent)
        #expect(policies.permissions(of: "alice-TV-1", roster: roster) == nil, "the primary follows its own settings")
        #expect(policies.mayApprove("alice-TV-1", roster: roster))
    }

    @Test func permissionsRoundTripThroughAPolicy() throws {
        var permissions = DevicePermissions()
        permissions.receive.rules = ["alice-PC-1": .init(.direct, folder: "/srv/in"), "alice-TV-1": .init(.ask)]
        permissions.receive.siblings = .init(.reject)
        permissions.push = .only(["alice-PC-1", "alice-TV-1"])
        permissions.messages = .silent
        permissions.keepHistory = false
        permissions.mayApprove = true
        let policy = permissions.policy(account: "alice", deviceID: "alice-MP-1", epoch: 0, version: 1, issuedAtMillis: 0)
        #expect(try DevicePermissions(policy) == permissions)
        #expect(policy.receive.map(\.sender) == ["alice-PC-1", "alice-TV-1"] && policy.pushTo == ["alice-PC-1", "alice-TV-1"])
        #expect(permissions.mayPush(to: "alice-TV-1") && !permissions.mayPush(to: "alice-MP-2"))
        #expect(DevicePermissions().mayPush(to: "anyone") && !DevicePermissions(push: .none).mayPush(to: "alice-PC-1"))
    }

    // MARK: Auto-approval window

    @Test func theApprovalWindowIsBoundedInTimeAndCount() throws {
        var window = ApprovalWindow()
        let closed = window.admit(now: 0)
        #expect(!window.isOpen(now: 0) && !closed, "off by default")
        try window.open(now: 1000, durationMillis: try #require(ApprovalWindow.parseDuration("10m")), maxDevices: 2)
        #expect(window.remainingMillis(now: 1000) == 600_000)
        let (first, second, third) = (window.admit(now: 2000), window.admit(now: 3000), window.admit(now: 4000))
        #expect(first && second && !third, "two devices, then it is spent")
        #expect(!window.isOpen(now: 4000) && window.closesAtMillis == nil)
        try window.open(now: 0, durationMillis: 60_000)
        let (inTime, late) = (window.admit(now: 59_999), window.admit(now: 60_000))
        #expect(inTime && !late)
        try window.open(now: 10_000, durationMillis: 60_000)
        let clockWentBack = window.admit(now: 9_999)
        #expect(!clockWentBack && window.closesAtMillis == nil)
        #expect(throws: ApprovalWindow.OpenError.tooLong(millis: 7_200_000)) { try window.open(now: 0, durationMillis: 7_200_000) }
        #expect(throws: ApprovalWindow.OpenError.zeroDuration) { try window.open(now: 0, durationMillis: 0) }
        #expect(throws: ApprovalWindow.OpenError.zeroDevices) { try window.open(now: 0, durationMillis: 1, maxDevices: 0) }
        try window.open(now: 0, durationMillis: 1000)
        window.close()
        let afterClose = window.admit(now: 1)
        #expect(!afterClose)
        #expect(ApprovalWindow.parseDuration("90s") == 90_000 && ApprovalWindow.parseDuration("1h") == 3_600_000)
        for bad in ["", "m", "0m", "10", "10d", "-5m", "1.5h", "+5m", " 5m", "٣m", "99999999999999999999h"] {
            #expect(ApprovalWindow.parseDuration(bad) == nil, "\(bad)")
        }
    }

    // MARK: Recovery key

    @Test func theRecoveryKeyPrintsAndParsesBack() throws {
        let key = RecoveryKey.generate()
        let text = key.text
        #expect(text.count == 35 && text.split(separator: "-").count == 6)
        let typed = try RecoveryKey(parsing: text.lowercased().replacingOccurrences(of: "-", with: " "))
        #expect(typed.publicKey == key.publicKey)
        #expect(!"\(key)".contains(text.prefix(5)), "description never shows the secret")
        let message: [UInt8] = Array("kith".utf8)
        #expect(key.publicKey.isValidSignature(typed.sign(message), for: message))
        #expect(throws: RecoveryKey.ParseError.wrongLength(29)) { _ = try RecoveryKey(parsing: String(text.dropLast())) }
        #expect(throws: RecoveryKey.ParseError.invalidCharacter("ß")) { _ = try RecoveryKey(parsing: "ß" + text) }
        #expect(RecoveryKey(secret: [1, 2, 3]) == nil)
    }

    /// Inputs kept in Tools/fuzz/FailCases/FuzzSignedDocument, replayed through both books.
    @Test func keptFuzzInputsAreRefusedOrAccepted() throws {
        let folder = Repository.url("Tools/fuzz/FailCases/FuzzSignedDocument")
        let files = (try? FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)) ?? []
        for file in files {
            let bytes = [UInt8](try Data(contentsOf: file))
            var roster = Self.book(holding: [Self.v2])
            _ = roster.consider(encoded: bytes)
            var policies = PolicyBook(account: "alice")
            _ = policies.consider(encoded: bytes, roster: roster)
        }
    }
}
