import KithStore
import KithWire

/// Presence across instances that share a store (`SharedServerStore`): each instance records
/// which devices are online on it and announces every account whose lists or documents it
/// pushed; the others push that account's lists and documents to its devices online on them.
extension Presence {
    /// Of `devices`, those online on another live instance (none without sharing, or if the store cannot say).
    func onlineElsewhere(_ devices: [DeviceRecord]) -> Set<String> {
        guard let sharing, !devices.isEmpty else { return [] }
        let since = now() - min(now(), sharing.liveWithinMillis)
        return (try? sharing.store.onlineElsewhere(devices.map(\.id), besides: sharing.instance, seenSince: since)) ?? []
    }

    func share(_ deviceID: String, online: Bool) {
        guard let sharing else { return }
        do {
            try sharing.store.setPresence(deviceID: deviceID, online: online, instance: sharing.instance)
        } catch {
            logger.warning("presence of \(deviceID) not shared with the other instances: \(error)")
        }
    }

    /// Tells the other instances that `account` changed: at the end of the step in progress
    /// (once, however often the step announced it), or now outside a step.
    func announce(_ account: String) {
        guard sharing != nil else { return }
        guard reads != nil else { return tellChanged(account) }
        if reads?.announced.contains(account) == false { reads?.announced.append(account) }
    }

    func tellChanged(_ account: String) {
        guard let sharing else { return }
        do {
            try sharing.store.tell(.accountChanged(account), by: sharing.instance)
        } catch {
            logger.warning("the other instances not told that \(account) changed: \(error)")
        }
    }

    /// A transit ticket made here for `device`, which is online on another instance: word goes
    /// to the instances, and the one that holds it offers the ticket (false: no other instance
    /// holds it, or the word could not go).
    func offerElsewhere(_ notice: TransitNotice, to device: DeviceRecord) -> Bool {
        guard let sharing, !onlineElsewhere([device]).isEmpty else { return false }
        do {
            try sharing.store.tell(.transit(notice), by: sharing.instance)
            return true
        } catch {
            logger.warning("a transit offer to \(device.id) not passed to the other instances: \(error)")
            return false
        }
    }

    /// `deviceID` logged in here from `address`: if it is online on another instance too (a copy
    /// of it, or its old connection there not yet timed out), that instance closes its session
    /// there, as `replace` does on one instance.
    func takeOver(_ deviceID: String, from address: String) {
        guard let sharing else { return }
        do {
            let since = now() - min(now(), sharing.liveWithinMillis)
            guard try !sharing.store.onlineElsewhere([deviceID], besides: sharing.instance, seenSince: since).isEmpty else { return }
            try sharing.store.tell(.sessionMoved(deviceID: deviceID, address: address), by: sharing.instance)
        } catch {
            logger.warning("the other instances not told that \(deviceID) logged in here: \(error)")
        }
    }

    /// Another instance announced that `account` changed: its devices online here, and its
    /// contacts' devices online here, get what that instance sent its own — the account's device
    /// list, its contacts, `documents` (its links, rosters and policies) and its roster chain.
    func refresh(account: String, documents: [Envelope]) {
        oneStep {
            pushDeviceList(account: account, announce: false)
            pushContacts(account: account, announce: false)
            for document in documents { send(document, toAccount: account) }
            let chain = rosterChain(of: account)
            for contact in contacts(of: account) ?? [] where contact.state == .contact {
                for roster in chain { send(Envelope(.contactRoster(.init(account: account, roster: roster))), toAccount: contact.account) }
            }
        }
    }
}
