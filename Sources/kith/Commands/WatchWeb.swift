import KithAPI

/// `kith watch --web`: asks the agent to open the watcher's web page for the watched contacts and
/// prints its address (Protocol/local-api.md §The watch page). The address holds the page key:
/// whoever has it sees the page, so it is printed for the user only, never logged.
enum WatchWeb {
    static func open(_ watcher: Watcher, options: ClientOptions) throws {
        let client = AgentClient(paths: options.paths, account: watcher.owner)
        let result = try client.call(WatchPageRequest(contacts: try watcher.store.watched()))
        options.output(result) { Console.line(result.address) }
    }
}
