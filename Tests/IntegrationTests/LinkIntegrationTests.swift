import Foundation
import KithAPI
import KithTestSupport
import Testing

/// Links between accounts (Protocol/links.md §Links, §Refusals) with a real server and agents:
/// alice links alice.work with its password; a wrong password and an unknown account get one
/// answer; a link to itself, a second master and a chain are refused; either primary removes the
/// link, and both accounts' devices hear of every change.
@Suite(.serialized, .fewAtATime) struct LinkIntegrationTests {
    @Test func aMasterLinksAnAccountByItsPasswordAndEitherSideRemovesTheLink() async throws {
        let server = try await ServerHarness.start(accounts: [
            "alice": "correct horse", "alice.work": "work horse", "mallory": "evil horse", "bob": "battery staple",
        ])
        let root = temporaryDirectory("links")
        let laptop = AgentHarness("alice-laptop", root: root)
        let workPhone = AgentHarness("work-phone", root: root)
        let mallory = AgentHarness("mallory", root: root)
        for agent in [laptop, workPhone, mallory] { try await agent.start() }
        _ = try laptop.login(server)
        _ = try workPhone.login(server, account: "alice.work", password: "work horse", type: "mobile")
        _ = try mallory.login(server, account: "mallory", password: "evil horse")

        // One answer for a wrong password and an unknown account; no link to itself.
        let wrong = try Self.refusal(laptop, ["accounts", "link", "alice.work"], stdin: "not the password\n")
        let unknown = try Self.refusal(laptop, ["accounts", "link", "nobody"], stdin: "whatever it is\n")
        #expect(wrong.contains("wrong account or password") && unknown.contains("wrong account or password"))
        #expect(try Self.refusal(laptop, ["accounts", "link", "alice"], stdin: "correct horse\n").contains("cannot be linked to itself"))

        // The link: the laptop's account is the master, the work phone's is linked under it.
        let linked = try laptop.cli(["accounts", "link", "alice.work"], as: AccountEntry.self, stdin: "work horse\n")
        #expect(linked.role == "master" && linked.linked == ["alice.work"])
        try await workPhone.eventually("alice.work to hear of its master") {
            try Self.account(workPhone).master == "alice"
        }
        #expect(try Self.account(workPhone).role == "linked")

        // A second master, and a chain, are refused.
        #expect(try Self.refusal(mallory, ["accounts", "link", "alice.work"], stdin: "work horse\n")
            .contains("alice.work is linked under another account"))
        #expect(try Self.refusal(workPhone, ["accounts", "link", "bob"], stdin: "battery staple\n")
            .contains("only a master links accounts"))
        #expect(try Self.refusal(mallory, ["accounts", "link", "alice"], stdin: "correct horse\n")
            .contains("alice has linked accounts of its own"))

        // alice.work's primary removes the link; the master's devices hear of it.
        let removed = try workPhone.cli(["accounts", "unlink", "alice"], as: AccountEntry.self)
        #expect(removed.role == "single" && removed.master == nil)
        try await laptop.eventually("the master to hear the link is gone") { try Self.account(laptop).role == "single" }

        // Linked again, the master removes it.
        _ = try laptop.cli(["accounts", "link", "alice.work"], as: AccountEntry.self, stdin: "work horse\n")
        try await workPhone.eventually("alice.work linked again") { try Self.account(workPhone).master == "alice" }
        #expect(try Self.refusal(mallory, ["accounts", "unlink", "alice.work"]).contains("are not linked"))
        #expect(try laptop.cli(["accounts", "unlink", "alice.work"], as: AccountEntry.self).linked.isEmpty)
        try await workPhone.eventually("alice.work single again") { try Self.account(workPhone).role == "single" }

        // Changes are logged on the server, passwords never are.
        #expect(server.log.contains("linked alice.work under alice"))
        #expect(!server.log.contains("work horse"))
    }

    static func account(_ agent: AgentHarness) throws -> AccountEntry {
        try #require(try agent.cli(["accounts"], as: AccountsResult.self).accounts.first)
    }

    /// Runs a CLI command that must fail; its error message.
    static func refusal(_ agent: AgentHarness, _ arguments: [String], stdin: String? = nil) throws -> String {
        do {
            _ = try agent.cli(arguments, as: AccountEntry.self, stdin: stdin)
        } catch let failure as AgentHarness.CLIFailure {
            return failure.message
        }
        Issue.record("`kith \(arguments.joined(separator: " "))` succeeded")
        return ""
    }
}
