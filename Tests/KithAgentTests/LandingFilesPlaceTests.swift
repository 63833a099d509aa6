import Foundation
import Testing
@testable import KithAgent

/// What lands is the file the landing wrote and checked, even if the partial copy's name was
/// pointed at another file meanwhile (the checked one moved aside, still with its one link).
@Suite struct LandingFilesPlaceTests {
    @Test func theCheckedFileLandsNotWhatItsNameNowNames() throws {
        let folder = NSTemporaryDirectory() + "kith-landing-place-\(UUID().uuidString.prefix(8))"
        let staging = folder + "/.kith-partial-test"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let sent = Array("what was sent\n".utf8)
        let landing = LandingFiles(folder: folder, staging: staging)
        try landing.prepare()
        try landing.write(file: 0, offset: 0, data: sent)
        try landing.sync()

        try FileManager.default.moveItem(atPath: staging + "/0.part", toPath: staging + "/aside")
        try Data("planted, same size\n".utf8.prefix(sent.count)).write(to: URL(fileURLWithPath: staging + "/0.part"))

        let name = try landing.place(file: 0, components: ["note.txt"], size: UInt64(sent.count), mode: 0o644)
        #expect(name == "note.txt")
        #expect(try Data(contentsOf: URL(fileURLWithPath: folder + "/note.txt")) == Data(sent))
    }
}
