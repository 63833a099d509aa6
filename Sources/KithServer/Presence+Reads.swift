import KithCore
import KithStore
import KithWire

/// The store reads presence repeats within one step. A master's login sends each linked account's
/// device list, contacts and rosters, and every one of them asks again for the same devices,
/// masters and rosters (fifty linked accounts made some two thousand reads of a few rows). One
/// step — a synchronous method of the actor, so nothing else runs and nothing it reads changes
/// meanwhile — reads each once; outside a step every read goes to the store.
struct PresenceReads {
    var devices: [String: [DeviceRecord]] = [:]
    var masters: [String: String?] = [:]
    var linkedMembers: [String: [DeviceRecord]] = [:]
    var rosters: [String: [SignedDocument]] = [:]
    var contacts: [String: [ContactRecord]] = [:]
    var linkedAccounts: [String: [String]] = [:]
    /// Accounts announced to the other instances during the step, told once when it ends (a
    /// device coming online pushes its account's device list and contacts, each announcing it).
    var announced: [String] = []
}

extension Presence {
    /// Runs `body` as one step: reads inside it are made once (steps nest into the outer one).
    /// Only for a step that writes nothing its reads depend on.
    func oneStep<T>(_ body: () -> T) -> T {
        if reads != nil { return body() }
        reads = PresenceReads()
        let result = body()
        let announced = reads?.announced ?? []
        reads = nil
        for account in announced { tellChanged(account) }
        return result
    }

    /// `account`'s devices (none if the store cannot say).
    func devices(of account: String) -> [DeviceRecord] {
        if let known = reads?.devices[account] { return known }
        let devices = (try? store.devices(account: account)) ?? []
        reads?.devices[account] = devices
        return devices
    }

    /// `account`'s contacts, in every state; nil if the store cannot say.
    func contacts(of account: String) -> [ContactRecord]? {
        if let known = reads?.contacts[account] { return known }
        guard let contacts = try? store.contacts(account: account) else { return nil }
        reads?.contacts[account] = contacts
        return contacts
    }

    /// The accounts linked under `account` as their master.
    func linkedAccounts(of account: String) -> [String] {
        if let known = reads?.linkedAccounts[account] { return known }
        let linked = (try? store.linkedAccounts(of: account)) ?? []
        reads?.linkedAccounts[account] = linked
        return linked
    }

    /// The master `account` is linked under, if any.
    func master(of account: String) -> String? {
        if let known = reads?.masters[account] { return known }
        let master = (try? store.master(of: account)) ?? nil
        reads?.masters[account] = .some(master)
        return master
    }

    /// The devices of the account's master, if it is linked under one.
    func masterDevices(of account: String) -> [DeviceRecord] {
        master(of: account).map(devices(of:)) ?? []
    }

    /// The master's devices that `account`'s stored roster lists, with their keys, as linked or
    /// primary: the devices of another account that hold this one. A link without such a roster
    /// entry gives a device nothing.
    /// The rule is `ServerRules.actFor`, the same that decides the device's own wrapped requests.
    func linkedMembers(of account: String) -> [DeviceRecord] {
        if let known = reads?.linkedMembers[account] { return known }
        let members = readLinkedMembers(of: account)
        reads?.linkedMembers[account] = members
        return members
    }

    private func readLinkedMembers(of account: String) -> [DeviceRecord] {
        let masters = masterDevices(of: account)
        guard let master = masters.first?.account, let bytes = try? store.latestRoster(account: account),
              let roster = try? ValidRoster(RosterSigning.roster(in: RosterSigning.decodeDocument(bytes)))
        else { return [] }
        return masters.filter { ServerRules.actFor(account, by: .init($0), master: master, roster: roster) == .allowed }
    }

    /// `account`'s roster chain, decoded (a document the store holds that does not decode is left out).
    func rosterChain(of account: String) -> [SignedDocument] {
        if let known = reads?.rosters[account] { return known }
        let chain = ((try? store.rosters(account: account)) ?? []).compactMap { try? RosterSigning.decodeDocument($0) }
        reads?.rosters[account] = chain
        return chain
    }
}
