import KithCore
import Testing

/// Path choice (spec §Path choice), every branch, with time as a number.
struct PathMachineTests {
    let lan = Candidate("10.0.0.2:7401", .lan)
    let wan = Candidate("100.64.0.9:40001", .direct)

    @Test func candidatesStartProbingEveryRoundUntilAHandshakeCompletes() {
        var machine = PathMachine()
        #expect(machine.candidatesChanged([lan, wan], now: 0) == [.changed(.probing), .probe([lan, wan])])
        #expect(machine.tick(now: 100).isEmpty)
        #expect(machine.tick(now: 250) == [.probe([lan, wan])])
        #expect(machine.established(address: wan.address, now: 300) == [.changed(.direct(wan))])
        #expect(machine.isDirect)
        #expect(machine.established(address: wan.address, now: 310).isEmpty)  // the other side's handshake: same path
    }

    @Test func noReplyWithinTheWindowFallsBackAndRetriesWithBackoff() throws {
        var machine = PathMachine()
        _ = machine.candidatesChanged([wan], now: 0)
        let failed = machine.tick(now: 3000)
        guard case .changed(.relay(let reason))? = failed.first else { Issue.record("expected relay, got \(failed)"); return }
        #expect(reason.contains("no reply to probes") && reason.contains("NAT"))
        #expect(machine.tick(now: 3999).isEmpty)
        #expect(machine.tick(now: 4000) == [.changed(.probing), .probe([wan])])  // 1 s later
        _ = machine.tick(now: 7000)  // fails again
        #expect(machine.tick(now: 8999).isEmpty)
        #expect(machine.tick(now: 9000).contains(.probe([wan])))  // 2 s later: doubled
    }

    @Test func lanOnlyFailureSaysSo() {
        var machine = PathMachine()
        _ = machine.candidatesChanged([lan], now: 0)
        guard case .changed(.relay(let reason))? = machine.tick(now: 3000).first else { Issue.record("expected relay"); return }
        #expect(reason.contains("LAN"))
    }

    @Test func aDirectPathIsKeptAliveAndDeclaredDeadWhenSilent() {
        var machine = PathMachine()
        _ = machine.candidatesChanged([lan], now: 0)
        _ = machine.established(address: lan.address, now: 100)
        #expect(machine.tick(now: 1000).isEmpty)
        #expect(machine.tick(now: 1100) == [.keepalive])
        machine.heard(now: 2000)
        #expect(machine.tick(now: 4999) == [.keepalive])
        let dead = machine.tick(now: 5000)
        guard case .changed(.relay(let reason))? = dead.first else { Issue.record("expected relay, got \(dead)"); return }
        #expect(reason.contains("silent"))
        #expect(machine.tick(now: 6000) == [.changed(.probing), .probe([lan])])  // upgrade attempt after 1 s
    }

    @Test func aDirectPathGetsNewKeysEveryTwoMinutes() {
        var machine = PathMachine()
        _ = machine.candidatesChanged([lan], now: 0)
        _ = machine.established(address: lan.address, now: 0)
        var time: UInt64 = 0, rekeys: [UInt64] = []
        while time < 250_000 {
            time += 500
            machine.heard(now: time)
            if machine.tick(now: time).contains(.rekey(lan)) { rekeys.append(time) }
        }
        #expect(rekeys == [120_000, 240_000])
        _ = machine.established(address: lan.address, now: 241_000)  // the new handshake completed
        #expect(machine.isDirect)
    }

    @Test func anUnacknowledgedDeliveryEndsTheDirectPath() {
        var machine = PathMachine()
        #expect(machine.deliveryFailed(now: 0).isEmpty)  // not direct: nothing to end
        _ = machine.candidatesChanged([lan], now: 0)
        _ = machine.established(address: lan.address, now: 10)
        #expect(machine.deliveryFailed(now: 20).count == 1 && !machine.isDirect)
    }

    /// Both sides probe at once and each completes a different pair: each uses the path it
    /// found, and an address not among the candidates (a NAT's mapping) still counts as direct.
    @Test func bothSidesWinningDifferentPairsIsFine() {
        var alice = PathMachine(), bob = PathMachine()
        _ = alice.candidatesChanged([lan, wan], now: 0)
        _ = bob.candidatesChanged([Candidate("10.0.0.1:7401", .lan)], now: 0)
        #expect(alice.established(address: wan.address, now: 40) == [.changed(.direct(wan))])
        #expect(bob.established(address: "100.64.0.7:50000", now: 45) == [.changed(.direct(Candidate("100.64.0.7:50000", .direct)))])
    }

    /// The peer's handshake arrived before its addresses did: the path is named once they come.
    @Test func aPathFoundBeforeTheCandidatesIsNamedWhenTheyArrive() {
        var machine = PathMachine()
        #expect(machine.established(address: lan.address, now: 0) == [.changed(.direct(Candidate(lan.address, .direct)))])
        #expect(machine.candidatesChanged([lan], now: 10) == [.changed(.direct(lan))])
        #expect(machine.candidatesChanged([lan, wan], now: 20).isEmpty)
    }

    @Test func theMeasuredRoundTripIsSmoothed() {
        var machine = PathMachine()
        machine.measured(rttMillis: 4)
        machine.measured(rttMillis: 8)
        #expect(machine.rttMillis == 5)
    }

    @Test func losingEveryCandidateWhileRelayedSaysWhy() {
        var machine = PathMachine()
        _ = machine.candidatesChanged([lan], now: 0)
        #expect(machine.candidatesChanged([], now: 10) == [.changed(.relay(reason: "no UDP address known for the device"))])
    }
}
