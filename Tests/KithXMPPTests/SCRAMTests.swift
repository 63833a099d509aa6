import Foundation
import Testing
@testable import KithXMPP

/// SCRAM-SHA-1 against RFC 5802 §5's own exchange (user "user", password "pencil").
@Suite struct SCRAMTests {
    static let clientNonce = "fyko+d2lbbFgONRv9qkxdawL"
    static let serverFirst = "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096"
    static let clientFinal = "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="
    static let serverFinal = "v=rmF9pqV8S7suAoZWja4dJRkFsKQ="

    @Test func theRFCExchange() throws {
        var client = SCRAMClient(username: "user", password: "pencil", clientNonce: Self.clientNonce)
        #expect(client.clientFirst == "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL")
        #expect(try client.respond(to: Self.serverFirst) == Self.clientFinal)
        try client.verify(serverFinal: Self.serverFinal)
    }

    @Test func aServerThatDoesNotKnowThePasswordIsRefused() throws {
        var client = SCRAMClient(username: "user", password: "pencil", clientNonce: Self.clientNonce)
        _ = try client.respond(to: Self.serverFirst)
        #expect(throws: SCRAMError.serverNotAuthenticated) { try client.verify(serverFinal: "v=AAAAAAAAAAAAAAAAAAAAAAAAAAA=") }
        #expect(throws: SCRAMError.serverNotAuthenticated) { try client.verify(serverFinal: "") }
        #expect(throws: SCRAMError.serverError("invalid-proof")) { try client.verify(serverFinal: "e=invalid-proof") }
    }

    @Test func hostileFirstMessagesAreRefusedBeforeAnyWork() {
        func respond(_ message: String) -> SCRAMError? {
            var client = SCRAMClient(username: "user", password: "pencil", clientNonce: Self.clientNonce)
            do { _ = try client.respond(to: message); return nil } catch { return error }
        }
        #expect(respond("r=somebodyelse,s=QSXCR+Q6sek8bf92,i=4096") == .nonceMismatch)
        #expect(respond("r=\(Self.clientNonce),s=QSXCR+Q6sek8bf92,i=4096") == .nonceMismatch)
        #expect(respond("r=\(Self.clientNonce)x,s=QSXCR+Q6sek8bf92,i=2000000000") == .iterationsOutOfRange(2_000_000_000))
        #expect(respond("r=\(Self.clientNonce)x,s=QSXCR+Q6sek8bf92,i=1") == .iterationsOutOfRange(1))
        #expect(respond("r=\(Self.clientNonce)x,s=!!!,i=4096") == .malformedChallenge("salt !!!"))
        #expect(respond("garbage") == .malformedChallenge("garbage"))
        #expect(respond("") == .malformedChallenge(""))
    }

    @Test func namesAreEscaped() {
        #expect(SCRAMClient.saslName("a=b,c") == "a=3Db=2Cc")
    }
}

@Suite struct JIDTests {
    @Test func normalizesLocalAndDomainKeepsResource() throws {
        let jid = try JID(parsing: "Alice@Example.TEST./Phone")
        #expect(jid.description == "alice@example.test/Phone")
        #expect(jid.bare.description == "alice@example.test")
        #expect(try JID(parsing: "example.test") == JID(domain: "example.test"))
    }

    @Test func refusesWhatIsNotAnAddress() {
        #expect(throws: JID.ParseError.empty) { try JID(parsing: "") }
        #expect(throws: JID.ParseError.emptyPart("local")) { try JID(parsing: "@example.test") }
        #expect(throws: JID.ParseError.emptyPart("resource")) { try JID(parsing: "a@example.test/") }
        #expect(throws: JID.ParseError.emptyPart("domain")) { try JID(parsing: "a@") }
        #expect(throws: JID.ParseError.forbiddenCharacter("local")) { try JID(parsing: "a'b@example.test") }
        #expect(throws: JID.ParseError.forbiddenCharacter("domain")) { try JID(parsing: "a@b@example.test") }
        #expect(throws: JID.ParseError.forbiddenCharacter("resource")) { try JID(parsing: "a@example.test/x\u{1}") }
        #expect(throws: JID.ParseError.tooLong("local")) { try JID(parsing: String(repeating: "a", count: 1024) + "@x") }
    }
}
