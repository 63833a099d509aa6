import Testing
@testable import KithCore

@Suite struct InstanceChoiceTests {
    static let (a, b, c) = (HostPort(host: "a", port: 1), HostPort(host: "b", port: 2), HostPort(host: "c", port: 3))

    private func round(_ choice: inout InstanceChoice) -> [HostPort] {
        var dialed: [HostPort] = []
        while case .dial(let address) = choice.next() { dialed.append(address) }
        return dialed
    }

    @Test func oneAddressIsDialedOncePerRound() {
        var choice = InstanceChoice(invite: [Self.a])
        #expect(choice.next() == .dial(Self.a))
        #expect(choice.next() == .wait)
        choice.newRound()
        #expect(choice.next() == .dial(Self.a))
    }

    @Test func inviteFirstThenLearnedEachOnce() {
        var choice = InstanceChoice(invite: [Self.b], learned: [Self.a, Self.b, Self.c])
        #expect(round(&choice) == [Self.b, Self.a, Self.c])
        #expect(choice.next() == .wait)
    }

    @Test func theAddressThatWorkedGoesFirst() {
        var choice = InstanceChoice(invite: [Self.a], learned: [Self.b, Self.c])
        #expect(choice.next() == .dial(Self.a))
        #expect(choice.next() == .dial(Self.b))
        choice.connected(to: Self.b)
        choice.newRound()
        #expect(round(&choice) == [Self.b, Self.a, Self.c])
    }

    @Test func aLostInstanceIsTriedLastSoTheDeviceMovesAtOnce() {
        var choice = InstanceChoice(invite: [Self.a], learned: [Self.b, Self.c])
        choice.connected(to: Self.b)
        choice.lost(Self.b)
        #expect(round(&choice) == [Self.a, Self.c, Self.b])
        choice.connected(to: Self.a)
        #expect(round(&choice) == [Self.a, Self.b, Self.c])
    }

    @Test func learnedAddressesReplaceTheLastListAndNeverRepeatTheInvite() {
        var choice = InstanceChoice(invite: [Self.a], learned: [Self.b])
        choice.learn([Self.c, Self.a])
        #expect(choice.addresses == [Self.a, Self.c])
        choice.reset(invite: [Self.a])
        #expect(choice.addresses == [Self.a, Self.c])
        choice.reset(invite: [Self.b])
        #expect(choice.addresses == [Self.b])
    }

    @Test func atMostSixteenAddresses() {
        let many = (1...40).map { HostPort(host: "h\($0)", port: $0) }
        var choice = InstanceChoice(invite: [Self.a], learned: many)
        #expect(round(&choice).count == InstanceChoice.maxAddresses)
    }

    /// A transit offer's `at` is followed only to an address the server named as an instance.
    @Test func aTransitOfferIsJoinedOnlyAtANamedInstance() {
        let connected = HostPort(host: "127.0.0.1", port: 7400)
        func join(_ at: String?) -> HostPort? {
            InstanceChoice.transitAddress(at: at, connected: connected, invite: [Self.a], learned: [Self.b.description])
        }
        #expect(join(nil) == connected)
        #expect(join(Self.a.description) == Self.a)
        #expect(join(Self.b.description) == Self.b)
        #expect(join(Self.c.description) == nil, "an address only the offer gives")
        #expect(join("not an address") == nil)
        #expect(InstanceChoice.transitAddress(at: nil, connected: nil, invite: [Self.a], learned: []) == nil)
    }
}
