import KithCore
import KithCrypto
import KithStore
import KithWire
import Testing
@testable import KithServer

/// The server's authorization rules (`ServerRules`), driven as scenarios without sockets, processes
/// or a store. The cast: alice's laptop alice-PC-1 is her first device and the primary of her
/// roster, her phone alice-MP-1 a secondary, alice-PC-2 a device that logged in with her password
/// but was never approved (pending). bob (bob-PC-1) is alice's accepted contact; carol
/// (carol-PC-1) has asked to be alice's contact and is still waiting.
@Suite struct ServerRulesTests {
    // MARK: The cast

    static let alicePC1Key = DeviceIdentity(seed: [UInt8](repeating: 1, count: 32))!
    static let aliceMP1Key = DeviceIdentity(seed: [UInt8](repeating: 2, count: 32))!
    static let alicePC2Key = DeviceIdentity(seed: [UInt8](repeating: 3, count: 32))!
    static let bobPC1Key = DeviceIdentity(seed: [UInt8](repeating: 4, count: 32))!
    static let aliceRecovery = RecoveryKey(secret: [UInt8](repeating: 9, count: 16))!
    static let now: UInt64 = 1_700_000_000_000

    static let alicePC1 = ServerRules.Caller(deviceID: "alice-PC-1", account: "alice", key: alicePC1Key.publicKey)
    static let aliceMP1 = ServerRules.Caller(deviceID: "alice-MP-1", account: "alice", key: aliceMP1Key.publicKey)
    static let alicePC2 = ServerRules.Caller(deviceID: "alice-PC-2", account: "alice", key: alicePC2Key.publicKey)
    static let bobPC1 = ServerRules.Caller(deviceID: "bob-PC-1", account: "bob", key: bobPC1Key.publicKey)

    /// alice's accepted contacts: bob. carol's open request is not among them.
    static let aliceContacts: Set<String> = ["bob"]

    static func member(_ caller: ServerRules.Caller, _ role: RosterRole = .secondary) -> RosterMember {
        RosterMember(deviceID: caller.deviceID, key: caller.key!, role: role, name: "device \(caller.deviceID)")
    }

    static let laptop = member(alicePC1, .primary)
    static let phone = member(aliceMP1)

    /// A roster of alice's as the server's keeper holds it: signed by alice-PC-1 and taken by an
    /// observer's book, as `RosterKeeper` takes every roster before it asks the rules.
    static func aliceRoster(_ version: UInt64, _ members: [RosterMember]) -> ValidRoster {
        let roster = Roster(account: "alice", epoch: 0, version: version, issuedAtMillis: now + version,
                            devices: members.map(\.wire), recoveryKey: aliceRecovery.publicKey.rawValue)
        let primary = members.first { $0.role == .primary }!
        let signer: DeviceIdentity = primary.deviceID == "alice-PC-1" ? alicePC1Key : aliceMP1Key
        let signed = try! RosterSigning.sign(roster, signer: primary.deviceID, with: signer)
        var observer = RosterBook(account: "alice", holder: nil)
        guard case .accepted(let change) = observer.consider(signed) else { preconditionFailure("setup roster refused") }
        return change.current
    }

    /// Roster 2: the laptop primary, the phone approved. Roster 3: the phone revoked.
    static let roster2 = aliceRoster(2, [laptop, phone])
    static let roster3 = aliceRoster(3, [laptop])

    // MARK: Sessions (spec §Sessions): what needs a login, and what is no request at all

    static let openRequests: [MessageType] = [.hello, .ping, .signup, .login, .resume]
    static let sessionRequests: [MessageType] = [.logout, .relaySend, .chatSend, .endpoints, .contactRequest,
                                                 .contactAccept, .contactRemove, .transitRequest, .rosterPublish,
                                                 .policyPublish, .revoke, .accountLink, .accountUnlink, .forAccount,
                                                 .accountSetMaster, .unreadReport]
    /// Requests of watch sessions (spec §Watch sessions), with their own rules below.
    static let watchRequests: [MessageType] = [.watchLogin, .watchResume, .watchSubscribe]
    static let replies: [MessageType] = [.pong, .ack, .errorMessage]
    static let notForTheServer: [MessageType] = MessageType.allCases.filter {
        !(openRequests + sessionRequests + watchRequests + replies + [.relayAck]).contains($0)
    }

    @Test(arguments: openRequests)
    func aNewConnectionMayGreetPingSignUpLogInAndResume(_ type: MessageType) {
        #expect(ServerRules.admission(of: type, loggedIn: false) == .admitted)
        #expect(ServerRules.admission(of: type, loggedIn: true) == .admitted)
    }

    @Test(arguments: sessionRequests.filter { $0 != .logout })
    func everyOtherRequestBeforeALoginIsUnauthenticated(_ type: MessageType) {
        #expect(ServerRules.admission(of: type, loggedIn: false) == .refused(.unauthenticated, reason: "log in first"))
        #expect(ServerRules.admission(of: type, loggedIn: true) == .admitted)
    }

    @Test func aLogoutBeforeALoginIsToldItIsNotLoggedIn() {
        #expect(ServerRules.admission(of: .logout, loggedIn: false) == .refused(.unauthenticated, reason: "not logged in"))
        #expect(ServerRules.admission(of: .logout, loggedIn: true) == .admitted)
    }

    @Test func repliesAreNeverAnsweredAndARelayAckCountsOnlyAfterALogin() {
        for type in Self.replies {
            #expect(ServerRules.admission(of: type, loggedIn: false) == .ignored, "\(type)")
            #expect(ServerRules.admission(of: type, loggedIn: true) == .ignored, "\(type)")
        }
        #expect(ServerRules.admission(of: .relayAck, loggedIn: false) == .ignored)
        #expect(ServerRules.admission(of: .relayAck, loggedIn: true) == .admitted)
    }

    @Test(arguments: notForTheServer)
    func whatOnlyTheServerSendsOrDevicesSendEachOtherIsMalformed(_ type: MessageType) {
        for loggedIn in [false, true] {
            #expect(ServerRules.admission(of: type, loggedIn: loggedIn)
                == .refused(.malformed, reason: "\(type) is not a request to the server"))
        }
    }

    @Test func theSessionsNamesForMalformedMessagesAreTheMessageTypes() {
        #expect(ServerRules.admission(of: .note, loggedIn: true) == .refused(.malformed, reason: "note is not a request to the server"))
        #expect(ServerRules.admission(of: .rosterUpdate, loggedIn: true)
            == .refused(.malformed, reason: "rosterUpdate is not a request to the server"))
    }

    /// `ServerSession` handles an admitted message in a switch that treats the rest as
    /// impossible: the rule may admit nothing outside the requests the session answers.
    @Test func nothingOutsideTheSessionsRequestsIsEverAdmitted() {
        let handled = Set(Self.openRequests + Self.sessionRequests + Self.watchRequests + [.relayAck])
        for type in MessageType.allCases {
            for kind in [ServerRules.SessionKind.none, .device, .watcher] where ServerRules.admission(of: type, session: kind) == .admitted {
                #expect(handled.contains(type), "\(type) admitted on a session \(kind)")
            }
        }
        #expect(Self.notForTheServer.count == 25, "every message type is sorted into one group")
    }

    /// A watch session is no device (spec §Watch sessions): it watches and nothing else, and a
    /// device's session cannot watch.
    @Test func aWatchSessionOnlyWatches() {
        #expect(ServerRules.admission(of: .watchLogin, session: .none) == .admitted)
        #expect(ServerRules.admission(of: .watchResume, session: .none) == .admitted)
        #expect(ServerRules.admission(of: .watchSubscribe, session: .watcher) == .admitted)
        for kind in [ServerRules.SessionKind.none, .device] {
            #expect(ServerRules.admission(of: .watchSubscribe, session: kind) != .admitted, "\(kind)")
        }
        for type in Self.sessionRequests + Self.openRequests.filter({ ![.hello, .ping].contains($0) }) + [.watchLogin, .watchResume] {
            guard case .refused(.forbidden, _) = ServerRules.admission(of: type, session: .watcher) else {
                Issue.record("\(type) on a watch session is not forbidden")
                continue
            }
        }
        #expect(ServerRules.admission(of: .relayAck, session: .watcher) == .ignored, "it acknowledges nothing")
        #expect(ServerRules.admission(of: .unreadReport, session: .device) == .admitted)
    }

    // MARK: Relay (spec §Relay): only between devices of one account

    @Test func aliceRelaysANoteToHerPhoneAndEvenToHerself() {
        #expect(ServerRules.relay(from: Self.alicePC1, to: "alice-MP-1", targetAccount: "alice") == .allowed)
        #expect(ServerRules.relay(from: Self.alicePC1, to: "alice-PC-1", targetAccount: "alice") == .allowed)
        #expect(ServerRules.relay(from: Self.alicePC2, to: "alice-PC-1", targetAccount: "alice") == .allowed,
                "where it may go is one rule; whether the sender is approved is another (relayedSender)")
    }

    @Test func onlyADeviceTheStoredRosterApprovesHasPayloadsRelayed() {
        #expect(ServerRules.relayedSender(Self.alicePC1, roster: Self.roster2) == .allowed)
        #expect(ServerRules.relayedSender(Self.aliceMP1, roster: Self.roster2) == .allowed)
        let pending = ServerRules.relayedSender(Self.alicePC2, roster: Self.roster2)
        guard case .refused(.notApproved, _) = pending else { Issue.record("a pending device: \(pending)"); return }
        guard case .refused(.notApproved, _) = ServerRules.relayedSender(Self.aliceMP1, roster: Self.roster3) else {
            Issue.record("a device the newer roster left out is not approved"); return
        }
        #expect(ServerRules.relayedSender(Self.alicePC2, roster: nil) == .allowed, "no roster yet: nothing to check against")
        let sameIDOtherKey = ServerRules.Caller(deviceID: "alice-MP-1", account: "alice", key: Self.alicePC2Key.publicKey)
        guard case .refused(.notApproved, _) = ServerRules.relayedSender(sameIDOtherKey, roster: Self.roster2) else {
            Issue.record("the id with another key is not the approved device"); return
        }
        #expect(ServerRules.relayedSender(Self.alicePC2, roster: Self.roster3, actingForLinkedAccount: true) == .allowed,
                "a master's device acting for a linked account was approved by actFor")
    }

    @Test func aliceMayNotRelayToBobEvenThoughHeIsHerContact() {
        #expect(ServerRules.relay(from: Self.alicePC1, to: "bob-PC-1", targetAccount: "bob")
            == .refused(.forbidden, reason: "bob-PC-1 is not a device of your account"))
    }

    @Test func aRelayToADeviceTheServerDoesNotHaveIsNotFound() {
        #expect(ServerRules.relay(from: Self.alicePC1, to: "alice-TV-1", targetAccount: nil)
            == .refused(.notFound, reason: "there is no device alice-TV-1"))
    }

    // MARK: Transit (spec §Transit): to another device of the caller's account

    @Test func aliceAsksForATransitToHerPhone() {
        #expect(ServerRules.transit(from: Self.alicePC1, to: "alice-MP-1", targetAccount: "alice") == .allowed)
    }

    @Test func aTransitToItselfToBobOrToNobodyIsNotFoundAlike() {
        #expect(ServerRules.transit(from: Self.alicePC1, to: "alice-PC-1", targetAccount: "alice")
            == .refused(.notFound, reason: "alice-PC-1 is not another device of your account"))
        #expect(ServerRules.transit(from: Self.alicePC1, to: "bob-PC-1", targetAccount: "bob")
            == .refused(.notFound, reason: "bob-PC-1 is not another device of your account"))
        #expect(ServerRules.transit(from: Self.alicePC1, to: "alice-TV-1", targetAccount: nil)
            == .refused(.notFound, reason: "alice-TV-1 is not another device of your account"))
    }

    // MARK: Contacts (spec §Contacts)

    @Test func aliceAsksDaveToBeHerContact() {
        #expect(ServerRules.contactRequest(from: Self.alicePC1, to: "dave", records: 2, limit: ContactRecord.maxPerAccount)
            == .allowed)
        #expect(ServerRules.contactRequest(from: Self.alicePC1, to: "dave", records: ContactRecord.maxPerAccount - 1,
                                           limit: ContactRecord.maxPerAccount) == .allowed, "the last free place")
    }

    @Test func aliceCannotAskHerself() {
        #expect(ServerRules.contactRequest(from: Self.alicePC1, to: "alice", records: 0, limit: ContactRecord.maxPerAccount)
            == .refused(.malformed, reason: "that is your own account"))
    }

    @Test func aliceWithAFullContactListCannotAskAnyoneElse() {
        #expect(ServerRules.contactRequest(from: Self.alicePC1, to: "dave", records: ContactRecord.maxPerAccount,
                                           limit: ContactRecord.maxPerAccount)
            == .refused(.forbidden, reason: "an account has at most 255 contacts and requests"))
    }

    // MARK: Messages between people (spec §Messages between people, step 3)

    @Test func aliceSendsAChatCopyToEachOfBobsDevices() {
        #expect(ServerRules.chat(from: Self.alicePC1, to: "bob-PC-1", targetAccount: "bob", contacts: Self.aliceContacts)
            == .allowed)
        #expect(ServerRules.chat(from: Self.bobPC1, to: "alice-MP-1", targetAccount: "alice", contacts: ["alice"])
            == .allowed, "and bob answers to alice's phone")
    }

    @Test func carolsOpenRequestIsNoContactYet() {
        #expect(ServerRules.chat(from: Self.alicePC1, to: "carol-PC-1", targetAccount: "carol", contacts: Self.aliceContacts)
            == .refused(.forbidden, reason: "carol is not your contact"))
    }

    @Test func aliceDoesNotChatWithHerOwnDevices() {
        #expect(ServerRules.chat(from: Self.alicePC1, to: "alice-MP-1", targetAccount: "alice", contacts: Self.aliceContacts)
            == .refused(.forbidden, reason: "alice is not your contact"))
        #expect(ServerRules.chat(from: Self.alicePC1, to: "alice-MP-1", targetAccount: "alice", contacts: ["alice", "bob"])
            == .refused(.forbidden, reason: "alice is not your contact"), "not even if a store said so")
    }

    @Test func aChatToADeviceTheServerDoesNotHaveIsNotFound() {
        #expect(ServerRules.chat(from: Self.alicePC1, to: "bob-MP-7", targetAccount: nil, contacts: Self.aliceContacts)
            == .refused(.notFound, reason: "there is no device bob-MP-7"))
    }

    // MARK: The first roster (roster.md §The first roster)

    static let firstRosterRefusal = ServerRules.Decision.refused(
        .forbidden, reason: "only the account's first device may publish its first roster, naming itself primary")

    @Test func alicesFirstDevicePublishesTheFirstRosterNamingItselfPrimary() {
        let first = Self.aliceRoster(1, [Self.laptop])
        #expect(ServerRules.firstRoster(first, publishedBy: Self.alicePC1, firstDeviceID: "alice-PC-1") == .allowed)
    }

    @Test func alicesPhoneCannotPublishTheFirstRosterEvenNamingItselfPrimary() {
        let phoneFirst = Self.aliceRoster(1, [RosterMember(deviceID: "alice-MP-1", key: Self.aliceMP1Key.publicKey,
                                                           role: .primary, name: "phone")])
        #expect(ServerRules.firstRoster(phoneFirst, publishedBy: Self.aliceMP1, firstDeviceID: "alice-PC-1")
            == Self.firstRosterRefusal)
    }

    @Test func alicesFirstDeviceMustNameItselfPrimaryWithItsOwnKey() {
        let phonePrimary = Self.aliceRoster(1, [RosterMember(deviceID: "alice-MP-1", key: Self.aliceMP1Key.publicKey,
                                                             role: .primary, name: "phone")])
        #expect(ServerRules.firstRoster(phonePrimary, publishedBy: Self.alicePC1, firstDeviceID: "alice-PC-1")
            == Self.firstRosterRefusal, "naming another device primary")
        let stranger = ServerRules.Caller(deviceID: "alice-PC-1", account: "alice", key: Self.alicePC2Key.publicKey)
        #expect(ServerRules.firstRoster(Self.aliceRoster(1, [Self.laptop]), publishedBy: stranger, firstDeviceID: "alice-PC-1")
            == Self.firstRosterRefusal, "the first device's id with another key")
    }

    @Test func withNoFirstDeviceOnRecordNobodyPublishesTheFirstRoster() {
        #expect(ServerRules.firstRoster(Self.aliceRoster(1, [Self.laptop]), publishedBy: Self.alicePC1, firstDeviceID: nil)
            == Self.firstRosterRefusal)
    }

    // MARK: Revoke (roster.md §Revoke)

    @Test func thePrimaryDeniesAPendingDeviceNoRosterLists() {
        #expect(ServerRules.revoke("alice-PC-2", targetAccount: "alice", by: Self.alicePC1, roster: Self.roster2) == .allowed)
    }

    @Test func thePrimaryRevokesThePhoneOnlyAfterPublishingARosterWithoutIt() {
        #expect(ServerRules.revoke("alice-MP-1", targetAccount: "alice", by: Self.alicePC1, roster: Self.roster2)
            == .refused(.forbidden, reason: "alice-MP-1 is still in roster 2: publish a roster without it first"))
        #expect(ServerRules.revoke("alice-MP-1", targetAccount: "alice", by: Self.alicePC1, roster: Self.roster3) == .allowed)
    }

    @Test func aSecondaryOrAnImpostorOfThePrimaryRevokesNobody() {
        let refusal = ServerRules.Decision.refused(.forbidden, reason: "only the primary of the account's roster may revoke a device")
        #expect(ServerRules.revoke("alice-PC-2", targetAccount: "alice", by: Self.aliceMP1, roster: Self.roster2) == refusal)
        let impostor = ServerRules.Caller(deviceID: "alice-PC-1", account: "alice", key: Self.alicePC2Key.publicKey)
        #expect(ServerRules.revoke("alice-PC-2", targetAccount: "alice", by: impostor, roster: Self.roster2) == refusal)
        let unparsedKey = ServerRules.Caller(deviceID: "alice-PC-1", account: "alice", key: nil)
        #expect(ServerRules.revoke("alice-PC-2", targetAccount: "alice", by: unparsedKey, roster: Self.roster2) == refusal)
        #expect(ServerRules.revoke("alice-PC-2", targetAccount: "alice", by: Self.alicePC1, roster: nil) == refusal,
                "before the first roster there is no primary")
    }

    @Test func aliceCannotRevokeBobsDeviceOrOneThatDoesNotExist() {
        #expect(ServerRules.revoke("bob-PC-1", targetAccount: "bob", by: Self.alicePC1, roster: Self.roster2)
            == .refused(.notFound, reason: "bob-PC-1 is not a device of your account"))
        #expect(ServerRules.revoke("alice-TV-1", targetAccount: nil, by: Self.alicePC1, roster: Self.roster2)
            == .refused(.notFound, reason: "alice-TV-1 is not a device of your account"))
    }

    // MARK: Linked accounts (links.md §Links, §Refusals)

    @Test func aFreeAccountIsLinkedUnderAMaster() {
        #expect(ServerRules.link("alice.work", under: "alice", facts: .init()) == .allowed)
        #expect(ServerRules.link("alice.work", under: "alice", facts: .init(callerLinkedCount: 255)) == .allowed)
    }

    @Test func noLinkToItselfTwiceOrUnderTwoMasters() {
        #expect(ServerRules.link("alice", under: "alice", facts: .init())
            == .refused(.forbidden, reason: "an account cannot be linked to itself"))
        #expect(ServerRules.link("alice.work", under: "alice", facts: .init(targetMaster: "alice"))
            == .refused(.conflict, reason: "alice.work is linked to alice already"))
        #expect(ServerRules.link("alice.work", under: "alice", facts: .init(targetMaster: "mallory"))
            == .refused(.conflict, reason: "alice.work is linked under another account"), "the other master is not named")
    }

    @Test func noChainsSoNoCycles() {
        // alice.work is under alice: it cannot link alice (a cycle) or anyone (a chain)...
        #expect(ServerRules.link("alice", under: "alice.work", facts: .init(callerMaster: "alice", targetHasLinked: true))
            == .refused(.forbidden, reason: "alice.work is linked under another account: only a master links accounts"))
        // ...and alice, a master, cannot be linked under anyone.
        #expect(ServerRules.link("alice", under: "bob", facts: .init(targetHasLinked: true))
            == .refused(.forbidden, reason: "alice has linked accounts of its own"))
    }

    @Test func aMasterLinksAtMostTheLimit() {
        #expect(ServerRules.link("n256", under: "alice", facts: .init(callerLinkedCount: ServerRules.maxLinkedAccounts))
            == .refused(.forbidden, reason: "alice has 256 linked accounts, the most there may be"))
    }

    @Test func eitherPrimaryRemovesALinkAndNobodyElse() {
        let link = (master: "alice", linked: "alice.work")
        #expect(ServerRules.unlink("alice.work", by: Self.alicePC1, roster: Self.roster2, link: link) == .allowed)
        let workPrimary = ServerRules.Caller(deviceID: "alice.work-PC-1", account: "alice.work", key: Self.alicePC1Key.publicKey)
        let workRoster = Self.aliceRoster(2, [Self.laptop, Self.phone])  // the same keys, as a stand-in: only its primary matters
        #expect(ServerRules.unlink("alice", by: workPrimary, roster: workRoster, link: link)
            == .refused(.forbidden, reason: "only the primary of the account's roster may remove a link"),
            "a primary of another id is not this account's primary")
        let refusal = ServerRules.Decision.refused(.forbidden, reason: "only the primary of the account's roster may remove a link")
        #expect(ServerRules.unlink("alice.work", by: Self.aliceMP1, roster: Self.roster2, link: link) == refusal)
        #expect(ServerRules.unlink("alice.work", by: Self.alicePC1, roster: nil, link: link) == refusal)
    }

    @Test func aLinkThatIsNotThereIsNotFound() {
        #expect(ServerRules.unlink("alice.work", by: Self.alicePC1, roster: Self.roster2, link: nil)
            == .refused(.notFound, reason: "alice and alice.work are not linked"))
        #expect(ServerRules.unlink("alice.work", by: Self.alicePC1, roster: Self.roster2, link: (master: "bob", linked: "alice.work"))
            == .refused(.notFound, reason: "alice and alice.work are not linked"), "a link of someone else's")
    }

    // MARK: One connection, many accounts (links.md)

    /// alice.work's roster as its primary signed it: its phone primary, alice's laptop linked.
    static func workRoster(_ laptopRole: RosterRole?) -> ValidRoster {
        let workPhone = RosterMember(deviceID: "alice.work-MP-1", key: Self.bobPC1Key.publicKey, role: .primary, name: "work phone")
        var members = [workPhone]
        if let laptopRole { members.append(RosterMember(deviceID: "alice-PC-1", key: Self.alicePC1Key.publicKey, role: laptopRole, name: "laptop")) }
        let roster = Roster(account: "alice.work", epoch: 0, version: 2, issuedAtMillis: now, devices: members.map(\.wire),
                            recoveryKey: aliceRecovery.publicKey.rawValue)
        return try! ValidRoster(roster)
    }

    @Test func aMastersDeviceActsForALinkedAccountOnlyOnceItsRosterListsIt() {
        #expect(ServerRules.actFor("alice.work", by: Self.alicePC1, master: "alice", roster: Self.workRoster(.linked)) == .allowed)
        let notListed = ServerRules.Decision.refused(.forbidden, reason: "alice.work's roster does not list alice-PC-1: its primary approves it first")
        #expect(ServerRules.actFor("alice.work", by: Self.alicePC1, master: "alice", roster: Self.workRoster(nil)) == notListed,
                "a link alone — a row in the server's database — gives nothing")
        #expect(ServerRules.actFor("alice.work", by: Self.alicePC1, master: "alice", roster: nil) == notListed)
        let impostor = ServerRules.Caller(deviceID: "alice-PC-1", account: "alice", key: Self.alicePC2Key.publicKey)
        #expect(ServerRules.actFor("alice.work", by: impostor, master: "alice", roster: Self.workRoster(.linked)) == notListed)
        #expect(ServerRules.actFor("alice.work", by: Self.alicePC1, master: nil, roster: Self.workRoster(.linked))
            == .refused(.forbidden, reason: "alice.work is not linked under alice"), "after an unlink")
        #expect(ServerRules.actFor("alice.work", by: Self.bobPC1, master: "alice", roster: Self.workRoster(.linked))
            == .refused(.forbidden, reason: "alice.work is not linked under bob"))
    }

    @Test func aLinkedAccountsRequestsButNotTheSessionsOwnTravelWrapped() {
        for type in [MessageType.relaySend, .chatSend, .relayAck, .contactRequest, .rosterPublish, .policyPublish, .revoke] {
            #expect(ServerRules.mayCarry(type), "\(type)")
        }
        for type in [MessageType.login, .resume, .signup, .logout, .accountLink, .accountUnlink, .forAccount, .note, .deviceList] {
            #expect(!ServerRules.mayCarry(type), "\(type)")
        }
    }

    /// An account linked before it had a device takes a device of its master as its first.
    @Test func aLinkedAccountWithoutADeviceTakesItsMastersDeviceAsItsFirst() {
        let acting = ServerRules.Caller(deviceID: "alice-PC-1", account: "alice.family", key: Self.alicePC1Key.publicKey)
        let first = try! ValidRoster(Roster(account: "alice.family", epoch: 0, version: 1, issuedAtMillis: Self.now,
                                            devices: [Self.laptop.wire], recoveryKey: Self.aliceRecovery.publicKey.rawValue))
        #expect(ServerRules.firstRoster(first, publishedBy: acting, firstDeviceID: nil, master: "alice") == .allowed)
        #expect(ServerRules.firstRoster(first, publishedBy: acting, firstDeviceID: "alice.family-TV-1", master: "alice")
            == Self.firstRosterRefusal, "it has a device of its own: that one is first")
        #expect(ServerRules.firstRoster(first, publishedBy: acting, firstDeviceID: nil, master: nil) == Self.firstRosterRefusal)
        #expect(ServerRules.firstRoster(first, publishedBy: acting, firstDeviceID: nil, master: "bob") == Self.firstRosterRefusal)
        #expect(ServerRules.actFor("alice.family", by: Self.alicePC1, master: "alice", roster: nil, firstRoster: true) == .allowed)
        #expect(ServerRules.actFor("alice.family", by: Self.bobPC1, master: "alice", roster: nil, firstRoster: true)
            == .refused(.forbidden, reason: "alice.family is not linked under bob"))
    }

    @Test func anAccountWhosePrimaryIsTheMastersDeviceStaysLinked() {
        let family = try! ValidRoster(Roster(account: "alice.family", epoch: 0, version: 1, issuedAtMillis: Self.now,
                                             devices: [Self.laptop.wire], recoveryKey: Self.aliceRecovery.publicKey.rawValue))
        let decision = ServerRules.unlink("alice.family", by: Self.alicePC1, roster: Self.roster2,
                                          link: (master: "alice", linked: "alice.family"), linkedRoster: family)
        guard case .refused(.conflict, let reason) = decision else { Issue.record("\(decision)"); return }
        #expect(reason.hasPrefix("alice.family's primary is alice-PC-1, a device of alice"))
    }

    @Test func thePrimaryOfTheMasterMakesALinkedAccountTheMaster() {
        let linked: [(account: String, roster: ValidRoster?)] = [("alice.work", Self.workRoster(.linked)), ("alice.x", nil)]
        #expect(ServerRules.setMaster("alice.work", by: Self.alicePC1, roster: Self.roster2, linked: linked) == .allowed)
        #expect(ServerRules.setMaster("alice.work", by: Self.aliceMP1, roster: Self.roster2, linked: linked)
            == .refused(.forbidden, reason: "only the primary of the account's roster may change its master"))
        #expect(ServerRules.setMaster("bob", by: Self.alicePC1, roster: Self.roster2, linked: linked)
            == .refused(.notFound, reason: "bob is not linked under alice"))
        let family = try! ValidRoster(Roster(account: "alice.family", epoch: 0, version: 1, issuedAtMillis: Self.now,
                                             devices: [Self.laptop.wire], recoveryKey: Self.aliceRecovery.publicKey.rawValue))
        let decision = ServerRules.setMaster("alice.work", by: Self.alicePC1, roster: Self.roster2,
                                             linked: linked + [("alice.family", family)])
        guard case .refused(.conflict, let reason) = decision else { Issue.record("\(decision)"); return }
        #expect(reason.hasPrefix("alice.family's primary is alice-PC-1, a device of alice"))
    }

    @Test func aMastersDeviceThatALinkedAccountListsIsASiblingThere() {
        let acting = ServerRules.Caller(deviceID: "alice.work-MP-1", account: "alice.work", key: Self.bobPC1Key.publicKey)
        #expect(ServerRules.relay(from: acting, to: "alice-PC-1", targetAccount: "alice", linkedInto: true) == .allowed)
        #expect(ServerRules.relay(from: acting, to: "alice-PC-1", targetAccount: "alice")
            == .refused(.forbidden, reason: "alice-PC-1 is not a device of your account"))
    }

    // MARK: The session's view of its caller

    @Test func theSessionHandsTheRulesItsDevicesIdAccountAndKey() {
        let record = DeviceRecord(id: "alice-PC-1", account: "alice", terminalType: .pc, name: "laptop",
                                  key: Self.alicePC1Key.publicKey.rawValue, clientVersion: "test", addresses: [],
                                  createdAtMillis: Self.now, lastSeenMillis: Self.now)
        #expect(ServerRules.Caller(record) == Self.alicePC1)
    }
}
