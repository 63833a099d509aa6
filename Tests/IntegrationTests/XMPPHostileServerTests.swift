import Foundation
import KithAgent
import KithXMPP
import Testing

/// What a hostile XMPP server can do to the agent's client: before authentication and inside a
/// roster push after login, an entity bomb, a 100 MB stanza, deep nesting and truncated XML each
/// end in a typed error and a closed connection, quickly and without reading the 100 MB.
@Suite(.serialized) struct XMPPHostileServerTests {
    static let alice = try! JID(parsing: "alice@evil.test")

    static var bomb: String {
        var text = "<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'>"
        for i in 1...9 { text += "<!ENTITY lol\(i) '" + String(repeating: "&lol\(i == 1 ? "" : String(i - 1));", count: 10) + "'>" }
        return text + "]>"
    }

    static let push = "<iq type='set' id='p1'><query xmlns='jabber:iq:roster'><item jid='"

    func login(_ server: HostileXMPPServer) async throws -> XMPPConnection.Login {
        try await XMPPConnection.connect(host: "127.0.0.1", port: server.port, account: Self.alice, password: "secret",
                                         rosterVersion: "", timeout: .seconds(5))
    }

    /// Logs in, then waits for the connection to end; returns why.
    func endAfterLogin(_ attack: HostileXMPPServer.Attack) async throws -> (XMPPError?, HostileXMPPServer) {
        let server = try await HostileXMPPServer(attack: attack, when: .afterLogin)
        let login = try await login(server)
        for await _ in login.connection.incoming {}
        return (login.connection.ended, server)
    }

    func failureBeforeLogin(_ attack: HostileXMPPServer.Attack) async throws -> XMPPError? {
        let server = try await HostileXMPPServer(attack: attack, when: .beforeAuthentication)
        defer { server.stop() }
        do {
            _ = try await login(server)
            return nil
        } catch let error as XMPPError {
            return error
        }
    }

    @Test func anEntityBombBeforeAuthentication() async throws {
        let error = try await failureBeforeLogin(.bytes(Self.bomb + HostileXMPPServer.header))
        #expect(error == .xml(.restrictedXML("a document type declaration")))
    }

    @Test func anUndefinedEntityInARosterPush() async throws {
        let (error, server) = try await endAfterLogin(.bytes(Self.push + "&lol9;'/></query></iq>"))
        defer { server.stop() }
        guard case .xml(.malformed(let reason)) = error else { Issue.record("\(String(describing: error))"); return }
        #expect(reason.contains("undefined entity"))
    }

    @Test func aHundredMegabyteStanzaBeforeAuthentication() async throws {
        let error = try await failureBeforeLogin(.endless(prefix: HostileXMPPServer.header + "<stream:features><x a='", totalBytes: 100 << 20))
        #expect(error == .xml(.stanzaTooLarge(limit: 1 << 20)))
    }

    @Test func aHundredMegabyteRosterPushIsNotReadToItsEnd() async throws {
        let (error, server) = try await endAfterLogin(.endless(prefix: Self.push, totalBytes: 100 << 20))
        defer { server.stop() }
        #expect(error == .xml(.stanzaTooLarge(limit: 1 << 20)))
        // The client closed after about a MiB; socket buffers let a few more chunks through.
        #expect(server.endlessChunksWritten < 20)
    }

    @Test func deepNestingBeforeAndAfterLogin() async throws {
        let deep = String(repeating: "<a>", count: 1000)
        #expect(try await failureBeforeLogin(.bytes(HostileXMPPServer.header + deep)) == .xml(.tooDeep(limit: 32)))
        let (error, server) = try await endAfterLogin(.bytes("<iq type='set' id='p1'><query xmlns='jabber:iq:roster'>" + deep))
        defer { server.stop() }
        #expect(error == .xml(.tooDeep(limit: 32)))
    }

    @Test func truncatedXMLBeforeAndAfterLogin() async throws {
        #expect(try await failureBeforeLogin(.truncated(HostileXMPPServer.header + "<stream:features><mechan")) == .closed)
        let (error, server) = try await endAfterLogin(.truncated(Self.push + "bob@evil"))
        defer { server.stop() }
        #expect(error == .closed)
    }

    @Test func aServerThatSaysNothingTimesOut() async throws {
        let server = try await HostileXMPPServer(attack: .bytes(""), when: .beforeAuthentication)
        defer { server.stop() }
        do {
            _ = try await XMPPConnection.connect(host: "127.0.0.1", port: server.port, account: Self.alice, password: "secret",
                                                 rosterVersion: "", timeout: .milliseconds(300))
            Issue.record("logged in to a silent server")
        } catch let error as XMPPError {
            #expect(error == .timedOut)
        }
    }
}
