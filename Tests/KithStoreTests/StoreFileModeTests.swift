import Foundation
import KithStore
import KithTestSupport
import Testing

/// Stores hold password hashes, tokens' hashes and messages: readable by their owner only,
/// whatever the folder's mode (an operator who made the data folder 0755 beforehand) or the umask.
@Suite struct StoreFileModeTests {
    static func mode(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions]) as? Int) ?? -1
    }

    @Test func storesAreOwnerOnlyInAFolderOpenToAll() throws {
        let folder = temporaryDirectory("modes")
        chmod(folder.path, 0o755)
        let agentPath = folder.appendingPathComponent("agent.sqlite").path
        let serverPath = folder.appendingPathComponent("server.sqlite").path
        // One made earlier with the usual 0644 is tightened too.
        FileManager.default.createFile(atPath: serverPath, contents: nil, attributes: [.posixPermissions: 0o644])
        let agent = try AgentStore(path: agentPath)
        try agent.saveUDPPort(7)
        let server = try SQLiteServerStore(path: serverPath)
        try server.createAccount(name: "alice", passwordHash: "x", now: 1)
        for path in [agentPath, agentPath + "-wal", serverPath, serverPath + "-wal"] {
            #expect(Self.mode(path) == 0o600, "\(path) is \(String(Self.mode(path), radix: 8))")
        }
    }
}
