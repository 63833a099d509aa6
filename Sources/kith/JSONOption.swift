import ArgumentParser

/// `--json` for the verbs that do not ask the agent (the agent's service verbs, the server's
/// operator verbs): the same one-document output and error shape as the others
/// (Protocol/local-api.md §The CLI's JSON).
struct JSONOption: ParsableArguments {
    @Flag(help: "Print the result as JSON, for scripts.")
    var json = false

    /// Prints `value` as JSON when --json was given; otherwise runs `human`.
    func output<T: Encodable>(_ value: T, human: () -> Void) {
        guard json else { return human() }
        Console.line(JSONOutput.document(value))
    }
}

/// What a service or operator verb did, for `--json`.
struct ServiceResult: Encodable {
    /// `stopped`, `started`, `installed`, `created`, `changed`, `removed`, `revoked`.
    var done: String
    var profile: String?
    var pid: Int32?
    var account: String?
    /// Files written.
    var files: [String]?
    /// What was affected (devices removed with an account, watch sessions revoked).
    var count: Int?
    /// What to do next, for people.
    var next: String?
}
