import ArgumentParser
import Foundation
import KithAgent

/// `kith config`: the profile's settings that outlive a run of its agent (`PROFILE/config.toml`).
extension Kith {
    struct Config: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "config",
            abstract: "Show or change the profile's agent settings (kept in PROFILE/config.toml).",
            discussion: """
                The settings are the `kith agent` options by their long names: udp, lan-discovery, \
                receive-dir, receive-siblings, receive-from, max-send-rate, offer-timeout, \
                abandon-after-hours, notice-clip, notice-clip-bytes, notice-hold-hours, log-level. The \
                agent reads them when it starts (`kith agent restart` after a change); a flag given to \
                `kith agent` wins for that run. The file may also be edited by hand.
                """,
            subcommands: [Get.self, SetValue.self, Unset.self, Path.self], defaultSubcommand: Get.self)

        struct Get: ParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "get",
                abstract: "Show one setting, or every setting made.",
                discussion: "With --json: an object of the settings made (one KEY: null when it is not set), typed as in the file.")
            @OptionGroup var profileOption: ProfileOption
            @Flag(help: "Print the result as JSON, for scripts.") var json = false
            @Argument(help: "A setting's name; none: all of them.") var key: String?

            func run() throws {
                let config = try Config.load(profileOption)
                if let key {
                    guard AgentConfigFile.keys[key] != nil else { throw Config.invalid("unknown setting \(key); see `kith config --help`") }
                    if json { return Console.line(JSONOutput.document([key: config.values[key].map(Setting.init)])) }
                    guard let value = config.values[key] else {
                        return Console.line("\(key) is not set: the agent's default applies (`kith agent --help`)")
                    }
                    return Console.line(value.description)
                }
                if json { return Console.line(JSONOutput.document(config.values.mapValues(Setting.init))) }
                if config.values.isEmpty { Console.line("no settings made: the agent's defaults apply (`kith agent --help`)") }
                for (key, value) in config.values.sorted(by: { $0.key < $1.key }) { Console.line("\(key) = \(value)") }
            }
        }

        struct SetValue: ParsableCommand {  // not `Set`, which would hide Swift's in this file
            static let configuration = CommandConfiguration(
                commandName: "set",
                abstract: "Change one setting; checked as `kith agent` would check it, then saved.",
                discussion: "A list (receive-from) is given comma-separated. The running agent takes it at its next start.")
            @OptionGroup var profileOption: ProfileOption
            @Flag(help: "Print the setting as JSON, for scripts.") var json = false
            @Argument(help: "The setting's name.") var key: String
            @Argument(help: "Its value.") var value: String

            func run() throws {
                var config = try Config.load(profileOption)
                do { try config.set(key, to: value) } catch { throw Config.invalid(error.description) }
                try Config.save(config, profileOption)
                if json { return Console.line(JSONOutput.document([key: config.values[key].map(Setting.init)])) }
                Console.line("\(key) = \(config.values[key]?.description ?? value); `kith agent restart` to use it now")
            }
        }

        struct Unset: ParsableCommand {
            static let configuration = CommandConfiguration(commandName: "unset", abstract: "Remove a setting: the agent's default applies again.")
            @OptionGroup var profileOption: ProfileOption
            @Flag(help: "Print the setting, now null, as JSON, for scripts.") var json = false
            @Argument(help: "The setting's name.") var key: String

            func run() throws {
                var config = try Config.load(profileOption)
                do { try config.unset(key) } catch { throw Config.invalid(error.description) }
                try Config.save(config, profileOption)
                if json { return Console.line(JSONOutput.document([key: Setting?.none])) }
                Console.line("\(key) is not set now; `kith agent restart` to use the default")
            }
        }

        struct Path: ParsableCommand {
            static let configuration = CommandConfiguration(commandName: "path", abstract: "Print where the profile's settings file is.")
            @OptionGroup var profileOption: ProfileOption
            @Flag(help: "Print it as JSON ({\"path\": …}), for scripts.") var json = false

            func run() {
                let path = AgentPaths(profile: profileOption.profile).config.path
                Console.line(json ? JSONOutput.document(["path": path]) : path)
            }
        }

        static func load(_ option: ProfileOption) throws -> AgentConfigFile {
            do { return try AgentConfigFile.load(from: AgentPaths(profile: option.profile).config) } catch {
                throw fail("the profile's settings: \(error.description)")
            }
        }

        /// Checks the whole file as `kith agent` would read it (nothing saved when it would not
        /// start), then writes it.
        static func save(_ config: AgentConfigFile, _ option: ProfileOption) throws {
            do { _ = try AgentOptions(AgentOptions.Flags(), config: config) } catch { throw Config.invalid(error.message) }
            let paths = AgentPaths(profile: option.profile)
            try FileManager.default.createDirectory(at: paths.directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
            try config.save(to: paths.config)
        }

        /// A setting refused (unknown, or a value `kith agent` would refuse): nothing was saved.
        static func invalid(_ message: String) -> CLIError { CLIError(code: "invalidSetting", message) }

        /// A setting as JSON, typed as in the file: numbers as numbers, flags as booleans, lists as arrays.
        struct Setting: Encodable {
            let value: AgentConfigFile.Value

            func encode(to encoder: any Encoder) throws {
                var container = encoder.singleValueContainer()
                switch value {
                case .string(let text): try container.encode(text)
                case .integer(let number): try container.encode(number)
                case .bool(let flag): try container.encode(flag)
                case .strings(let list): try container.encode(list)
                }
            }
        }
    }
}
