import KithCore
import Testing

/// `kith policy set` / `show`: the key=value form of a secondary's permissions.
@Suite struct PolicySettingsTests {
    @Test func describeAndApplyRoundTrip() throws {
        let permissions = try PolicySettings.apply(
            ["receive=ask", "receive.alice-PC-1=direct:Inbox", "receive.alice-TV-1=reject", "push=alice-PC-1,alice-MP-2",
             "messages=silent", "history=drop", "approve=yes"], to: DevicePermissions())
        #expect(permissions.receive.siblings == ReceivePolicy.Rule(.ask))
        #expect(permissions.receive.rules["alice-PC-1"] == ReceivePolicy.Rule(.direct, folder: "Inbox"))
        #expect(permissions.push == .only(["alice-PC-1", "alice-MP-2"]))
        #expect(permissions.messages == .silent && !permissions.keepHistory && permissions.mayApprove)
        let lines = PolicySettings.describe(permissions)
        #expect(lines == ["receive=ask", "receive.alice-PC-1=direct:Inbox", "receive.alice-TV-1=reject",
                          "push=alice-MP-2,alice-PC-1", "messages=silent", "history=drop", "approve=yes"])
        #expect(try PolicySettings.apply(lines, to: DevicePermissions()) == permissions)
        // And the signed form gives the same permissions back.
        let policy = permissions.policy(account: "alice", deviceID: "alice-MP-1", epoch: 0, version: 1, issuedAtMillis: 1)
        #expect(try DevicePermissions(policy) == permissions)
    }

    @Test func settingsNotNamedKeepTheirValueAndDefaultRemovesARule() throws {
        let start = try PolicySettings.apply(["receive.alice-PC-1=ask", "push=none"], to: DevicePermissions())
        let next = try PolicySettings.apply(["receive.alice-PC-1=default"], to: start)
        #expect(next.receive.rules.isEmpty)
        #expect(next.push == .none)
    }

    @Test(arguments: ["receive", "receive=maybe", "receive=ask:Inbox", "receive.=direct", "push=", "messages=loud",
                      "history=sometimes", "approve=maybe", "colour=blue", "receive=direct:"])
    func badSettingsAreRefusedWithTheSettingNamed(_ setting: String) {
        #expect(throws: PolicySettings.Problem.self) { _ = try PolicySettings.apply([setting], to: DevicePermissions()) }
        do { _ = try PolicySettings.apply([setting], to: DevicePermissions()) } catch {
            #expect(error.setting == setting || setting.hasPrefix(error.setting))
        }
    }
}
