import KithCore
import Testing

/// How the user names an endpoint: short when one network of the profile has it, with the
/// network when several do; never a guess between two.
struct EndpointNameTests {
    let aliceHome = Network.kith(server: "3f2a01", account: "alice")
    let aliceWork = Network.kith(server: "9b7c02", account: "alice.work")
    let aliceXMPP = Network.xmpp(jid: "alice@example.org")

    @Test func aShortNameResolvesWhenOneNetworkHasIt() throws {
        let known = [Endpoint(network: aliceHome, id: "bob"), Endpoint(network: aliceXMPP, id: "bob@example.org")]
        #expect(try EndpointName.resolve("kith:bob", among: known) == known[0])
        #expect(try EndpointName.resolve("xmpp:Bob@Example.org", among: known) == known[1])
        #expect(throws: EndpointName.Problem.unknown("kith:carol")) { try EndpointName.resolve("kith:carol", among: known) }
        #expect(throws: EndpointName.Problem.notAnEndpoint("bob")) { try EndpointName.resolve("bob", among: known) }
        #expect(throws: EndpointName.Problem.notAnEndpoint("xmpp:")) { try EndpointName.resolve("xmpp:", among: known) }
    }

    @Test func twoNetworksWithTheSameContactNeedTheNetworkNamed() throws {
        let home = Endpoint(network: aliceHome, id: "bob"), work = Endpoint(network: aliceWork, id: "bob")
        #expect(throws: EndpointName.Problem.ambiguous("kith:bob", [home, work])) { try EndpointName.resolve("kith:bob", among: [work, home]) }
        #expect(try EndpointName.resolve("kith:bob@alice.work", among: [home, work]) == work)
        #expect(try EndpointName.resolve(EndpointName.full(home), among: [home, work]) == home)
        #expect(EndpointName.short(home) == "kith:bob")
    }
}
