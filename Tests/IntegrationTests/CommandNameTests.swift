import ArgumentParser
@testable import kith
import Testing

/// Each `kith` command names itself: a command without `commandName:` makes ArgumentParser
/// reflect on its type at every start (see `Kith`), and the CLI's start time is part of every
/// short command, a 1 KiB push included.
@Suite struct CommandNameTests {
    @Test func everyCommandNamesItself() {
        var unnamed: [String] = []
        var seen = 0
        func walk(_ command: any ParsableCommand.Type, path: String) {
            seen += 1
            let configuration = command.configuration
            let name = configuration.commandName ?? "(unnamed \(command))"
            if configuration.commandName == nil { unnamed.append("\(path) \(name)") }
            for sub in configuration.subcommands { walk(sub, path: "\(path) \(name)") }
        }
        walk(Kith.self, path: "")
        #expect(seen > 50, "the walk found only \(seen) commands")
        #expect(unnamed.isEmpty, "commands without commandName: \(unnamed)")
    }
}
