import KithAPI
import Foundation
import KithCore
import KithCrypto
import KithNet
import KithStore
import KithWire
import Logging
import NIOCore

/// What file transfers need from the rest of the agent.
struct TransferEnvironment: Sendable {
    /// The account's other devices with their Noise keys.
    var siblings: @Sendable () async -> [String: PublicKey]
    /// Where a sibling's working UDP path is (its TCP listener has the same number), and its name.
    var directAddress: @Sendable (String) async -> (host: String, port: Int, path: String)?
    /// A transit ticket for a relayed stream to a sibling, and the server to present it to.
    var transit: @Sendable (String) async throws -> (host: String, port: Int, ticket: [UInt8])
    var publish: @Sendable (AgentEvent) async -> Void
    /// A UDP stream to a sibling over its direct path (spec §UDP stream); nil: none is possible.
    var udpStream: @Sendable (String) async throws -> (any Conduit)? = { _ in nil }
    /// Whether a UDP stream to a sibling may be tried now (its path is direct, no recent open failed).
    var canOpenUDPStream: @Sendable (String) async -> Bool = { _ in false }
    /// The round trip of a sibling's direct path in milliseconds, if measured.
    var directRTT: @Sendable (String) async -> Double? = { _ in nil }
}

/// What a user may set about transfers (`kith agent` options).
public struct TransferSettings: Sendable {
    /// Where direct receives land unless the policy names a folder.
    public var receiveFolder: String
    public var policy: ReceivePolicy
    /// Sending limit in bytes per second; nil: none.
    public var maxSendRate: UInt64?
    /// How long an offer waits for an answer, unless `kith push --expires` says otherwise.
    public var offerTTLSeconds: UInt32
    /// An incoming transfer whose sender has not been heard from for this long is given up and
    /// its partial copies deleted (they would otherwise hold disk space for ever).
    public var abandonAfterMillis: UInt64 = 7 * 24 * 3_600_000
    /// Take file names with bidirectional controls or invisible characters (spec §File names,
    /// rule 8); by default an offer with one is refused.
    public var allowHiddenNames = false

    public init(receiveFolder: String = TransferSettings.defaultReceiveFolder, policy: ReceivePolicy = ReceivePolicy(),
                maxSendRate: UInt64? = nil, offerTTLSeconds: UInt32 = 600) {
        self.receiveFolder = receiveFolder
        self.policy = policy
        self.maxSendRate = maxSendRate
        self.offerTTLSeconds = offerTTLSeconds
    }

    public static var defaultReceiveFolder: String {
        (ProcessInfo.processInfo.environment["HOME"] ?? "/tmp") + "/Downloads/Kith"
    }
}

/// Every file transfer of this device, both ways (spec §File transfer). The actor owns the
/// records and carries out what each transfer's `TransferMachine` decides for them (store writes,
/// events, expiry timers); streams are driven outside it (TransferSending, TransferReceiving),
/// send their events through it and carry out the stream's actions, so no file I/O waits on the actor.
actor Transfers {
    let store: AgentStore
    let keys: KeyPair
    let logger: Logger
    let settings: TransferSettings
    /// The counts behind `admit(from:)`.
    private var admission = ConnectionAdmission(limits: Transfers.admissionLimits)
    private var refusalLog = ThrottledLog()
    let group: any EventLoopGroup
    let now: @Sendable () -> UInt64
    /// How expiry timers wait (tests pass one that does not).
    let sleep: @Sendable (Duration) async throws -> Void
    let environment: TransferEnvironment

    private var records: [[UInt8]: TransferRecord] = [:]
    private var governingPolicy: ReceivePolicy?
    private var runs: Set<[UInt8]> = []
    private var paths: [[UInt8]: String] = [:]
    /// The AEADs a TCP transfer stream may use, preferred first: AES-256-GCM where this CPU has AES
    /// instructions, then ChaCha20-Poly1305 (`TransportCipherChoice`). `KITH_AES=off` (tests)
    /// leaves AES out, as on a machine without them.
    static let streamCiphers = TransportCipherChoice.local(aesAllowed: ProcessInfo.processInfo.environment["KITH_AES"] != "off")
    /// The AEAD of each transfer's current stream, beside its path.
    private var ciphersInUse: [[UInt8]: NoiseCipher] = [:]
    private var samples: [[UInt8]: [(at: UInt64, bytes: UInt64)]] = [:]
    /// Receiver: the stream that currently owns each transfer, and its waiter for the user's answer.
    private var owners: [[UInt8]: (token: UInt64, channel: ConduitHandle)] = [:]
    private var waiters: [[UInt8]: CheckedContinuation<Void, Never>] = [:]
    private var nextToken: UInt64 = 0
    private var switching: Set<[UInt8]> = []
    /// Receiver: the partial copies this process wrote and made durable, per transfer and file. A
    /// stream that resumes a transfer in the same run trusts them instead of reading them back;
    /// after a restart nothing is here and the copies are read and proved again.
    private var written: [[UInt8]: [Int: WrittenPartial]] = [:]
    /// Sender: direct addresses whose TCP dial failed lately, skipped for the UDP stream.
    var directTCP = DirectTCPMemory()
    /// Sender: remembered addresses being probed for TCP now.
    var tcpProbes: Set<String> = []

    init(store: AgentStore, keys: KeyPair, logger: Logger, settings: TransferSettings, group: any EventLoopGroup,
         now: @escaping @Sendable () -> UInt64, sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) },
         environment: TransferEnvironment) {
        self.store = store
        self.keys = keys
        self.logger = logger
        self.settings = settings
        self.group = group
        self.now = now
        self.sleep = sleep
        self.environment = environment
    }

    /// Loads unfinished transfers: outgoing ones start again, waiting offers get their expiry.
    func start() {
        for stored in (try? store.transfers(finishedLimit: 0)) ?? [] {
            guard let record = try? JSONDecoder().decode(TransferRecord.self, from: stored.record) else { continue }
            records[record.id] = record
            // Silence counts only while this agent runs: a receiver that was off is not a silent sender.
            if !record.outgoing { records[record.id]?.touchedMillis = now() }
            onStreams(record.id, handle(record.id, .restarted))
        }
        try? store.deleteChunkProofsOfFinishedTransfers()
        Task { [weak self] in
            while !Task.isCancelled {
                guard let every = await self?.abandonSilentIncoming() else { return }  // the agent is gone
                try? await Task.sleep(for: .milliseconds(every))
            }
        }
    }

    /// Gives up incoming transfers whose sender has been silent for `abandonAfterMillis`; returns
    /// when to look again (hourly, sooner for short limits).
    @discardableResult
    func abandonSilentIncoming() -> UInt64 {
        for record in records.values where !record.outgoing && !record.state.isFinished && owners[record.id] == nil {
            let since = record.touchedMillis ?? record.createdMillis
            onStreams(record.id, handle(record.id, .silence(sinceMillis: since, limitMillis: settings.abandonAfterMillis)))
        }
        return min(3_600_000, max(1000, settings.abandonAfterMillis / 10))
    }

    // MARK: - Records

    func record(_ id: [UInt8]) -> TransferRecord? { records[id] }

    func writtenPartials(_ id: [UInt8]) -> [Int: WrittenPartial] { written[id] ?? [:] }

    /// Records what a receiving stream made durable (after each commit); forgotten (and the
    /// descriptors closed) when the transfer ends.
    func rememberWritten(_ id: [UInt8], _ partials: [Int: WrittenPartial]) {
        guard let record = records[id], !record.state.isFinished else {
            written[id] = nil
            return
        }
        written[id, default: [:]].merge(partials) { $1 }
    }

    /// Runs `event` through the transfer's machine, applies `change` with what it decided, and
    /// carries out the record's actions (store write, chunk proofs, the API's event, an expiry
    /// timer). Returns every action: the stream's are the caller's to carry out.
    @discardableResult
    func handle(_ id: [UInt8], _ event: TransferMachine.Event,
                with change: (inout TransferRecord) -> Void = { _ in }) -> [TransferMachine.Action] {
        guard var record = records[id] else { return [.ignored] }
        let t = now()
        let actions = record.machine.handle(event, now: t)
        guard actions != [.ignored] else { return actions }
        change(&record)
        if actions.contains(.persist) { record.touchedMillis = t }
        records[id] = record
        carryOut(actions, record)
        return actions
    }

    /// The record's part of a machine's actions.
    private func carryOut(_ actions: [TransferMachine.Action], _ record: TransferRecord) {
        for action in actions {
            switch action {
            case .persist:
                do { try store.saveTransfer(record.stored) } catch { logger.error("cannot store transfer \(record.idHex): \(error)") }
            case .forgetChunkProofs:
                try? store.deleteChunkProofs(id: record.id)  // only a resume needs them
                written[record.id] = nil
            case .publish(let state):
                let why = record.reason.map { " (\($0))" } ?? ""
                logger.info("transfer \(record.idHex.prefix(8)) \(record.outgoing ? "to" : "from") \(record.peer): \(state.rawValue)\(why)")
                let event = AgentEvent(event: .transfer, from: record.peer, transfer: record.idHex, state: state.rawValue)
                Task { await environment.publish(event) }
            case .scheduleExpiry(let deadline):
                scheduleExpiry(record.id, at: deadline)
            default:
                continue
            }
        }
    }

    /// The stream's part of actions for an event that came from outside any stream (the user, a
    /// timer, the roster): a stream waiting for the user's answer gives it (from the record), a
    /// transfer that is over has its streams closed and its partial copies deleted, an outgoing
    /// one runs.
    private func onStreams(_ id: [UInt8], _ actions: [TransferMachine.Action]) {
        for action in actions {
            switch action {
            case .sendAnswer, .startData: decided(id)
            case .sendOffer: startRun(id)
            case .sendCancel(let reason):
                // Said on the open stream, then the stream closes (`stopData` leaves it to this).
                guard let stream = sending[id] else { continue }
                Task {
                    try? await stream.outbound.write(Envelope(.fileCancel(.init(transferID: id, reason: reason))))
                    stream.channel.close()
                }
            case .stopData:
                if !actions.contains(where: { if case .sendCancel = $0 { true } else { false } }) { sending[id]?.channel.close() }
                owners[id]?.channel.close()  // data may be flowing: it stops
            case .deletePartials:
                if let staging = records[id]?.staging { LandingFiles.removeStaging(at: staging) }
            default: continue
            }
        }
    }

    /// A new transfer, committed (else the error is thrown), then the rest of the record's part
    /// of its machine's first actions.
    private func insert(_ record: TransferRecord, _ actions: [TransferMachine.Action]) throws {
        try store.saveTransfer(record.stored)
        records[record.id] = record
        carryOut(actions.filter { $0 != .persist }, record)
    }

    /// Changes what is not the machine's (where files landed) and commits it.
    func update(_ id: [UInt8], _ change: (inout TransferRecord) -> Void) {
        guard var record = records[id] else { return }
        change(&record)
        record.touchedMillis = now()
        records[id] = record
        do { try store.saveTransfer(record.stored) } catch { logger.error("cannot store transfer \(record.idHex): \(error)") }
    }

    /// Counts bytes for the rate shown while it runs (the last few seconds).
    func count(_ id: [UInt8], sent bytes: UInt64) {
        records[id]?.bytesSent += bytes
        sample(id)
    }

    private func sample(_ id: [UInt8]) {
        guard let record = records[id] else { return }
        let t = now()
        var list = samples[id] ?? []
        list.append((t, record.outgoing ? record.bytesSent : record.verifiedBytes))
        list.removeAll { $0.at + 3000 < t }
        samples[id] = list
    }

    func setPath(_ id: [UInt8], _ path: String?) {
        paths[id] = path
        if path == nil { ciphersInUse[id] = nil }
    }

    func setCipher(_ id: [UInt8], _ cipher: NoiseCipher) { ciphersInUse[id] = cipher }

    // MARK: - Sending

    func startRun(_ id: [UInt8]) {
        guard !runs.contains(id) else { return }
        runs.insert(id)
        Task {
            await self.runOutgoing(id)
            self.runEnded(id)
        }
    }

    /// A finished transfer keeps the path it finished over (a push through the relay can be over
    /// before anyone looks); one that will run again has none until its next stream is up.
    private func runEnded(_ id: [UInt8]) {
        runs.remove(id)
        if records[id]?.state.isFinished != true { setPath(id, nil) }
    }

    /// The receiver reported progress on a file.
    func progressed(_ id: [UInt8], _ progress: FileProgress) {
        handle(id, .progress(file: Int(progress.file), verifiedChunks: progress.verifiedChunks, complete: progress.complete == true))
        sample(id)
    }

    func isComplete(_ id: [UInt8], file: Int) -> Bool { records[id]?.progress[file].complete == true }

    func markSwitching(_ id: [UInt8]) { switching.insert(id) }
    func takeSwitching(_ id: [UInt8]) -> Bool { switching.remove(id) != nil }

    /// The receive rules of the policy the primary set for this device (issue 7); nil: this
    /// device's own settings apply.
    func govern(with policy: ReceivePolicy?) { governingPolicy = policy }

    // MARK: - Receiving

    /// The record of an offer arriving, and what its machine makes of it (its answer among
    /// them): the existing one, or a new one as the policy decides; nil when the id names another
    /// transfer (another sender, another direction, other entries).
    func incoming(_ offer: CheckedOffer, from sender: String) -> (record: TransferRecord, actions: [TransferMachine.Action])? {
        if let record = records[offer.transferID] ?? storedRecord(offer.transferID) {
            guard !record.outgoing, record.peer == sender, record.chunkSize == offer.chunkSize,
                  record.entries.map(\.path) == offer.entries.map(\.path),
                  record.entries.map(\.size) == offer.entries.map(\.size) else { return nil }
            records[record.id] = record
            let actions = handle(record.id, .offer)
            return (records[record.id] ?? record, actions)
        }
        let decision = (governingPolicy ?? settings.policy).decide(sender: sender, isSibling: true, requested: offer.requested)
        let t = now()
        let (machine, actions) = TransferMachine.receive(ttlSeconds: offer.ttlSeconds,
                                                         progress: offer.entries.map { .init(complete: $0.isFolder) },
                                                         decision: decision, now: t)
        var record = TransferRecord(
            id: offer.transferID, outgoing: false, peer: sender, state: machine.state, reason: nil, requested: offer.requested,
            ttlSeconds: offer.ttlSeconds, chunkSize: offer.chunkSize, chunkKey: offer.chunkKey, createdMillis: t, deadlineMillis: nil,
            entries: offer.entries.map { .init(path: $0.path, size: $0.size, mode: $0.mode, isFolder: $0.isFolder) },
            progress: machine.progress)
        record.machine = machine
        if case .land(let folder) = decision {
            // A policy's folder is absolute, or relative to the receive folder (Protocol/roster.md §Policies).
            record.folder = folder.map { $0.hasPrefix("/") ? $0 : settings.receiveFolder + "/" + $0 } ?? settings.receiveFolder
        }
        if let folder = record.folder { record.staging = folder + "/" + CheckedOffer.stagingPrefix + record.idHex }
        do { try insert(record, actions) } catch { logger.error("cannot store an incoming offer: \(error)") }
        logger.info("offer \(record.idHex.prefix(8)) from \(sender): \(offer.entries.count) entries, \(offer.totalBytes) bytes, \(record.state.rawValue)")
        return (record, actions)
    }

    private func storedRecord(_ id: [UInt8]) -> TransferRecord? {
        (try? store.transfer(id: id)).flatMap { $0 }.flatMap { try? JSONDecoder().decode(TransferRecord.self, from: $0.record) }
    }

    /// An outgoing transfer's current stream, so a cancel can say so on it and close it.
    private var sending: [[UInt8]: (channel: ConduitHandle, outbound: ConduitWriter)] = [:]
    func sendingOn(_ id: [UInt8], _ channel: ConduitHandle, outbound: ConduitWriter) {
        sending[id] = (channel, outbound)
        if records[id]?.state.isFinished == true { channel.close() }
    }

    /// The stream ended; a newer one may have registered meanwhile and stays.
    func notSendingOn(_ id: [UInt8], _ channel: ConduitHandle) {
        if sending[id]?.channel === channel { sending[id] = nil }
    }

    /// A stream takes over a transfer; an older stream of it is closed. Returns the new owner's token.
    func claim(_ id: [UInt8], channel: ConduitHandle) -> UInt64 {
        nextToken += 1
        if let old = owners[id] { old.channel.close() }
        owners[id] = (nextToken, channel)
        waiters.removeValue(forKey: id)?.resume()
        return nextToken
    }

    func owns(_ id: [UInt8], _ token: UInt64) -> Bool { owners[id]?.token == token }

    /// The transfer's state if the stream with `token` still owns it; nil if another took it.
    func ownedState(_ id: [UInt8], _ token: UInt64) -> TransferMachine.State? {
        owns(id, token) ? records[id]?.state : nil
    }

    func release(_ id: [UInt8], _ token: UInt64) {
        if owners[id]?.token == token { owners[id] = nil }
    }

    /// Waits while the offer waits for the user; nil if another stream took the transfer meanwhile.
    func decision(_ id: [UInt8], token: UInt64) async -> TransferRecord? {
        guard owns(id, token) else { return nil }
        if records[id]?.state == .waiting {
            await withCheckedContinuation {
                waiters.removeValue(forKey: id)?.resume()
                waiters[id] = $0
            }
        }
        guard owns(id, token) else { return nil }
        return records[id]
    }

    private func decided(_ id: [UInt8]) {
        waiters.removeValue(forKey: id)?.resume()
    }

    /// The machine's `scheduleExpiry`: a `tick` at the deadline.
    private func scheduleExpiry(_ id: [UInt8], at deadline: UInt64) {
        let current = now()  // once: the clock can pass the deadline between two readings
        let wait = deadline > current ? deadline - current : 0
        Task {
            try? await sleep(.milliseconds(wait))
            self.onStreams(id, self.handle(id, .tick))
        }
    }

    /// Streams that have not yet authenticated and offered: at most 8 from one address and 64 in
    /// all, each with 10 s to do it, so strangers who can reach the port can neither use up this
    /// process's file descriptors nor crowd out a sibling from another address.
    static let admissionLimits = ConnectionAdmission.Limits(deadlineSeconds: 10, perAddress: 8, total: 64)

    /// A stream from `address` (the carrier's source; streams that came through the server or a
    /// UDP path share one name each) may start its handshake; else why not.
    /// A refusal is logged once per cause and address every 10 s (a flood is not a log flood).
    func admit(from address: String) -> ConnectionAdmission.Decision {
        let decision = admission.arrive(from: address)
        if case .refuse(let cause) = decision,
           let line = refusalLog.line("refusing device streams: \(cause.rawValue) (\(address))",
                                      now: DispatchTime.now().uptimeNanoseconds / 1_000_000) {
            logger.notice("\(line)")
        }
        return decision
    }

    func authenticatedOrGone(from address: String) { admission.leave(from: address) }

    // MARK: - The local API

    func find(_ prefix: String) throws -> TransferRecord {
        let wanted = prefix.lowercased()
        let all = records.values.filter { $0.idHex.hasPrefix(wanted) }
        let matches = all.isEmpty
            ? ((try? store.transfers(finishedLimit: 1000)) ?? []).compactMap { try? JSONDecoder().decode(TransferRecord.self, from: $0.record) }
                .filter { $0.idHex.hasPrefix(wanted) }
            : all
        guard !wanted.isEmpty, let first = matches.first else { throw AgentError(.unknownTransfer, "no transfer \(prefix) on this device") }
        guard matches.count == 1 else { throw AgentError(.unknownTransfer, "\(prefix) names \(matches.count) transfers; give more of the id") }
        return first
    }

    func accept(_ prefix: String, folder: String?) throws -> TransferInfo {
        let record = try find(prefix)
        guard !record.outgoing, record.state == .waiting else {
            throw AgentError(.invalidRequest, "transfer \(prefix) is \(record.state.rawValue), not waiting for an answer")
        }
        let landing = folder ?? settings.receiveFolder
        guard landing.hasPrefix("/") else { throw AgentError(.invalidRequest, "the folder must be an absolute path") }
        onStreams(record.id, handle(record.id, .accept) {
            $0.folder = landing
            $0.staging = landing + "/" + CheckedOffer.stagingPrefix + $0.idHex
        })
        return info(records[record.id] ?? record)
    }

    func reject(_ prefix: String) throws -> TransferInfo {
        let record = try find(prefix)
        guard !record.state.isFinished else { throw AgentError(.invalidRequest, "transfer \(prefix) is \(record.state.rawValue) already") }
        records[record.id] = records[record.id] ?? record
        onStreams(record.id, handle(record.id, record.outgoing ? .cancel(reason: "cancelled on this device") : .reject))
        return info(records[record.id] ?? record)
    }

    /// Ends every unfinished transfer with `peer` either way (it left the roster): streams close,
    /// partial copies of incoming ones go.
    func cancelAll(with peer: String, reason: String) {
        let stored = ((try? store.transfers()) ?? []).compactMap { try? JSONDecoder().decode(TransferRecord.self, from: $0.record) }
        for record in stored.map({ records[$0.id] ?? $0 }) where record.peer == peer && !record.state.isFinished {
            records[record.id] = record
            onStreams(record.id, handle(record.id, .cancel(reason: reason)))
            logger.info("transfer \(record.idHex.prefix(8)) with \(peer) cancelled: \(reason)")
        }
    }

    func list() -> [TransferInfo] {
        let stored = ((try? store.transfers()) ?? []).compactMap { try? JSONDecoder().decode(TransferRecord.self, from: $0.record) }
        let online = onlinePeers()
        return stored.map { info(records[$0.id] ?? $0, online: online) }
    }

    func info(_ prefix: String) throws -> TransferInfo { info(try find(prefix)) }

    /// The devices of the account the server lists online.
    private func onlinePeers() -> Set<String> { Set(((try? store.devices()) ?? []).filter(\.online).map(\.id)) }

    func info(_ record: TransferRecord, online: Set<String>? = nil) -> TransferInfo {
        // Only the samples of the last 3 s count: a transfer that stopped moving has no rate, not
        // the rate of its last seconds, frozen.
        let t = now()
        let list = (samples[record.id] ?? []).filter { $0.at + 3000 >= t }
        var rate: Double?
        if let first = list.first, let last = list.last, last.at > first.at, !record.state.isFinished {
            rate = Double(last.bytes - min(last.bytes, first.bytes)) * 1000 / Double(last.at - first.at)
        }
        let streamUp = paths[record.id] != nil
        let waiting = TransferWait.of(.init(
            state: record.state.rawValue, outgoing: record.outgoing, peer: record.peer,
            peerOnline: (online ?? onlinePeers()).contains(record.peer), streamUp: streamUp, moving: (rate ?? 0) > 0))
        var info = TransferInfo(
            id: record.idHex, direction: record.outgoing ? "out" : "in", peer: record.peer, state: record.state.rawValue,
            reason: record.reason, files: record.entries.filter { !$0.isFolder }.count,
            names: Array(Set(record.entries.map { String($0.path.split(separator: "/")[0]) })).sorted().prefix(5).map { $0 },
            totalBytes: record.totalBytes, verifiedBytes: record.verifiedBytes,
            sentBytes: record.outgoing ? record.bytesSent : nil, path: paths[record.id], bytesPerSecond: rate,
            folder: record.folder, landed: record.landed.isEmpty ? nil : record.landed.values.sorted(),
            requested: record.requested.description, createdMillis: record.createdMillis, finishedMillis: record.finishedMillis,
            expiresAtMillis: record.state == .waiting ? record.deadlineMillis : nil)
        info.waitingFor = waiting
        info.cipher = ciphersInUse[record.id]?.displayName
        return info
    }
}

extension Transfers {
    /// A new outgoing transfer: committed, then its run starts.
    func push(_ entries: [TransferRecord.Entry], to peer: String, receive: ReceivePermission,
              ttlSeconds: UInt32?) throws -> TransferInfo {
        let (machine, actions) = TransferMachine.send(ttlSeconds: ttlSeconds ?? settings.offerTTLSeconds,
                                                      progress: entries.map { .init(complete: $0.isFolder) })
        let record = TransferRecord(
            id: (0..<16).map { _ in UInt8.random(in: 0...255) }, outgoing: true, peer: peer, state: machine.state, reason: nil,
            requested: receive, ttlSeconds: machine.ttlSeconds, chunkSize: CheckedOffer.defaultChunkSize,
            chunkKey: (0..<ChunkTagger.keyLength).map { _ in UInt8.random(in: 0...255) },
            createdMillis: now(), deadlineMillis: nil, entries: entries, progress: machine.progress)
        guard (try? Envelope(.fileOffer(record.offer)).encode()) != nil else {
            throw AgentError(.invalidRequest, "too many files or too long names for one offer; push subfolders separately")
        }
        try insert(record, actions)
        onStreams(record.id, actions)
        return info(record)
    }
}
