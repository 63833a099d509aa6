import Foundation
import KithCrypto
import KithStore

/// Where one device's state lives: its identity now, its store later.
struct Profile {
    let directory: URL

    var identityFile: URL { directory.appendingPathComponent("identity.seed") }

    /// `--profile`, else `$KITH_PROFILE`, else `$XDG_DATA_HOME/kith/default` (`~/.local/share/kith/default`).
    init(_ option: String?) {
        let env = ProcessInfo.processInfo.environment
        if let path = option ?? env["KITH_PROFILE"], !path.isEmpty {
            directory = URL(fileURLWithPath: path)
        } else {
            let data = env["XDG_DATA_HOME"].map { URL(fileURLWithPath: $0) }
                ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".local/share")
            directory = data.appendingPathComponent("kith/default")
        }
    }

    /// The device's identity, made and stored (mode 0600) on first use.
    func identity() throws -> (identity: DeviceIdentity, created: Bool) {
        try IdentityFile.loadOrCreate(in: directory)
    }
}
