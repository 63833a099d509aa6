import ArgumentParser

/// The `--profile` option every command shares.
struct ProfileOption: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The device's state directory.", valueName: "dir"))
    var profile: String?

    var resolved: Profile { Profile(profile) }
}
