import Foundation
import KithCore
import KithCrypto
import KithNet
import KithWire
import NIOCore

/// The receiving side of a device stream: only the account's devices get past the handshake,
/// every offer passes `CheckedOffer` and the policy before anything touches the disk, data goes
/// through `TransferReceiver`, and progress is durable before it is reported.
extension Transfers {
    nonisolated func serve(_ stream: DeviceStreamChannel, path: String) async {
        await serve(TCPConduit(stream), path: path, from: stream.channel.remoteAddress?.ipAddress ?? "?")
    }

    /// Serves one device stream, whichever carrier it came on (TCP direct, transit, UDP stream).
    /// `address`: where the stream came from (its carrier's source address, or `path` for a
    /// stream that came through the server or over a UDP path).
    nonisolated func serve(_ stream: any Conduit, path: String, from address: String? = nil) async {
        let address = address ?? path
        if case .refuse = await admit(from: address) {
            // Closed through its own scope: an async channel dropped unopened traps in NIO
            // ("Deinited NIOAsyncWriter without calling finish()"), which the 9th stream from
            // one address used to find.
            _ = try? await stream.executeThenClose { _, _ in }
            return
        }
        var counted = true
        defer { if counted { Task { await self.authenticatedOrGone(from: address) } } }
        do {
            // A connection that has not authenticated and offered within 10 s is closed: strangers
            // can reach this port, and must not hold connections open.
            let channel = stream.handle
            let deadline = Task {
                try await Task.sleep(for: .seconds(Self.admissionLimits.deadlineSeconds))
                channel.close()
            }
            defer { deadline.cancel() }
            try await stream.executeThenClose { events, outbound in
                guard case .established(let key, let cipher)? = try await events.next() else { return }
                guard let sender = await environment.siblings().first(where: { $0.value == key })?.key else {
                    logger.notice("refused a device stream from a key that is not one of this account's devices")
                    return
                }
                guard case .envelope(let first)? = try await events.next(), case .fileOffer(let offer) = first.message else {
                    logger.notice("a device stream from \(sender) did not start with an offer")
                    return
                }
                let checked: CheckedOffer
                do throws(TransferError) {
                    checked = try CheckedOffer(offer, allowingHiddenNames: settings.allowHiddenNames)
                } catch {
                    logger.warning("refused an offer from \(sender): \(error)")
                    try await outbound.write(Envelope(.fileCancel(.init(transferID: offer.transferID,
                                                                        reason: String(error.description.prefix(1000))))))
                    return
                }
                deadline.cancel()
                counted = false
                await authenticatedOrGone(from: address)
                let id = checked.transferID
                let token = await claim(id, channel: stream.handle)
                await setPath(id, path)
                await setCipher(id, cipher)
                await receive(checked, from: sender, token: token, events: &events, outbound: outbound)
                await release(id, token)
                await setPath(id, nil)
            }
        } catch {
            logger.info("a transfer stream ended: \(error)")
        }
    }

    private nonisolated func receive(_ offer: CheckedOffer, from sender: String, token: UInt64,
                                     events: inout ConduitEvents, outbound: ConduitWriter) async {
        let id = offer.transferID
        guard var (record, actions) = await incoming(offer, from: sender) else {
            logger.warning("refused an offer from \(sender): its id names another transfer")
            try? await outbound.write(Envelope(.fileCancel(.init(transferID: id, reason: "this id names another transfer"))))
            return
        }
        let stream = ReceivingStream(id: id, proofs: record.proofs.wire, outbound: outbound)
        do {
            while actions.contains(.sendAnswer(.waiting, reason: nil)) {
                try await stream.perform(actions)
                guard let decided = await decision(id, token: token) else { return }
                record = decided
                actions = decided.machine.reply
            }
            if actions.contains(.startData) {
                try await receiveData(offer, record: record, token: token, events: &events, stream: stream)
            } else {
                try await stream.perform(actions)
            }
        } catch {
            logger.info("transfer \(id.hexString.prefix(8)) stream ended: \(error)")
        }
    }

    private nonisolated func receiveData(_ offer: CheckedOffer, record: TransferRecord, token: UInt64,
                                         events: inout ConduitEvents, stream: ReceivingStream) async throws {
        let id = offer.transferID
        guard let folder = record.folder, let staging = record.staging else {
            try await stream.perform(await handle(id, .failed(reason: "no landing folder")))
            return
        }
        let landing = LandingFiles(folder: folder, staging: staging)
        var landed = record.landed
        do {
            try landing.prepare()
            if landed.isEmpty {
                for top in offer.topLevelNames where top.isFolder { landed[top.name] = try landing.reserveFolder(top.name) }
                let reserved = landed
                await update(id) { $0.landed = reserved }
            }
            for entry in offer.entries where entry.isFolder {
                try landing.makeFolders(Self.landedComponents(entry.components, landed)[...])
            }
        } catch let error as FileSystemError {
            return try await pause(id, error, landing: landing, remaining: offer.totalBytes, stream: stream)
        }
        // Progress counts only what the partial copies really hold: the copies this run wrote (the
        // same files, as large as they were), else read back and proved again (a crash, a lost
        // store write, a copy changed or planted meanwhile).
        var progress = record.progress
        let stored = (try? store.chunkProofs(id: id)) ?? [:]
        let written = await writtenPartials(id)
        do {
            for (file, entry) in offer.entries.enumerated() where !entry.isFolder && !progress[file].complete {
                let proofs = Array((stored[file] ?? []).prefix(Int(progress[file].verifiedChunks)))
                let held = try landing.verifiedPrefix(file, proofs: proofs, kind: record.proofs, chunkSize: offer.chunkSize,
                                                      size: entry.size, written: written[file])
                progress[file].verifiedChunks = UInt32(held)
                progress[file].chunkProofs = Array(proofs.prefix(held))
            }
        } catch let error as FileSystemError {
            return try await pause(id, error, landing: landing, remaining: offer.totalBytes, stream: stream)
        }
        let receiver = TransferReceiver(offer: offer, proofs: record.proofs, progress: progress)
        var savedProofs = progress.map(\.chunkProofs.count)
        let remaining = offer.totalBytes - min(offer.totalBytes, receiver.verifiedBytes)
        if let free = landing.freeBytes(), free < min(remaining, offer.chunkSize * 2) {
            let error = FileSystemError(operation: "write", path: folder, code: ENOSPC)
            return try await pause(id, error, landing: landing, remaining: remaining, stream: stream)
        }
        let accepted = await handle(id, .canWrite)
        guard accepted.contains(.sendAnswer(.accepted, reason: nil)) else { return }  // it ended meanwhile
        try await stream.perform(accepted, verified: receiver.verified)

        /// Makes written data durable, then the progress, then tells the sender how far `file` is.
        /// Other files' counts only catch the record up with what the partial copies hold (after
        /// a crash): the sender learns those from the next `accepted`.
        func commit(_ file: Int?) async throws {
            try landing.sync()
            guard let state = await ownedState(id, token), !state.isFinished else { return }
            let progress = receiver.progress
            // The new proofs first: rows beyond the record's count are harmless, a count beyond the rows is not.
            for (index, entry) in progress.enumerated() where entry.chunkProofs.count > savedProofs[index] {
                try store.saveChunkProofs(id: id, file: index, first: savedProofs[index],
                                          Array(entry.chunkProofs[savedProofs[index]...]))
                savedProofs[index] = entry.chunkProofs.count
            }
            let held = await self.record(id)?.progress ?? []
            for (index, entry) in progress.enumerated() where !entry.complete
                && (index == file || index >= held.count || held[index].verifiedChunks != entry.verifiedChunks) {
                let actions = await handle(id, .progress(file: index, verifiedChunks: entry.verifiedChunks, complete: false))
                if index == file { try await stream.perform(actions) }
            }
            var durable: [Int: WrittenPartial] = [:]
            for (index, entry) in progress.enumerated() where !entry.complete {
                durable[index] = landing.written(index, chunks: Int(entry.verifiedChunks))
            }
            await rememberWritten(id, durable)
        }
        do {
            while let event = try await events.next() {
                guard case .envelope(let envelope) = event else { continue }
                let actions: [TransferReceiver.Action]
                switch envelope.message {
                case .fileData(let data): actions = try receiver.receive(data)
                case .fileEnd(let end): actions = try receiver.end(end)
                case .fileCancel(let cancel):
                    try await stream.perform(await handle(id, .peerCancelled(reason: cancel.reason)), landing: landing)
                    return
                default: continue
                }
                // Another stream took the transfer, or it ended here (rejected, cancelled): stop.
                guard let state = await ownedState(id, token) else { return }
                if state.isFinished {
                    try? await stream.perform([.sendCancel(reason: "the receiver ended it (\(state.rawValue))")])
                    landing.removeStaging()
                    return
                }
                for action in actions {
                    switch action {
                    case .write(let file, let offset, let data):
                        try landing.write(file: file, offset: offset, data: data)
                    case .commit:
                        if case .write(let file, _, _)? = actions.first { try await commit(file) }
                    case .place(let file):
                        let entry = offer.entries[file]
                        let components = Self.landedComponents(entry.components, landed)
                        let name = try landing.place(file: file, components: components, size: entry.size, mode: entry.mode)
                        if components.count == 1 { landed[entry.components[0]] = name }
                        receiver.placed(file)
                        let names = landed
                        let placed = await handle(id, .progress(file: file, verifiedChunks: receiver.progress[file].verifiedChunks,
                                                                complete: true)) { $0.landed = names }
                        try await stream.perform(placed, landing: landing)
                    case .reportComplete(let file):
                        try await stream.perform([.sendProgress(file: file, verifiedChunks: receiver.progress[file].verifiedChunks,
                                                                complete: true)])
                    }
                }
            }
            receiver.streamEnded()
            try await commit(nil)
            if await self.record(id)?.state.isFinished == true && !receiver.isComplete { landing.removeStaging() }
        } catch let error as TransferError {
            receiver.streamEnded()
            try? await commit(nil)
            logger.warning("transfer \(id.hexString.prefix(8)) from \(record.peer): \(error)")
            if error.fatal {
                try? await stream.perform(await handle(id, .failed(reason: error.description)), landing: landing)
            }
        } catch let error as FileSystemError {
            receiver.streamEnded()
            try? await commit(nil)
            try await pause(id, error, landing: landing, remaining: offer.totalBytes - min(offer.totalBytes, receiver.verifiedBytes),
                            stream: stream)
        }
    }

    /// Cannot write: disk full pauses (the partial files stay; the sender retries), anything else fails.
    private nonisolated func pause(_ id: [UInt8], _ error: FileSystemError, landing: LandingFiles, remaining: UInt64,
                                   stream: ReceivingStream) async throws {
        guard error.isNoSpace else {
            return try await stream.perform(await handle(id, .cannotWrite(reason: error.description)), landing: landing)
        }
        let reason = "no space left on the receiver's disk in \(landing.folder) (\(remaining) bytes still to come)"
        logger.warning("transfer \(id.hexString.prefix(8)) paused: \(reason)")
        try await stream.perform(await handle(id, .diskFull(reason: reason)), landing: landing)
    }

    /// An entry's path with its first component as it landed (" (1)" if the name was taken).
    static func landedComponents(_ components: [String], _ landed: [String: String]) -> [String] {
        var out = components
        if let name = landed[components[0]] { out[0] = name }
        return out
    }
}

/// The receiving stream's part of what a transfer's machine decides: the messages to the sender
/// and the partial copies. The record's part is done already (`Transfers.handle`).
struct ReceivingStream {
    let id: [UInt8]
    /// What an `accepted` answer asks the sender for.
    let proofs: ChunkProof
    let outbound: ConduitWriter

    /// `verified` goes with an `accepted` answer; `landing` holds the partial copies, if open.
    func perform(_ actions: [TransferMachine.Action], verified: [UInt32] = [], landing: LandingFiles? = nil) async throws {
        for action in actions {
            switch action {
            case .sendAnswer(let state, let reason):
                try await outbound.write(Envelope(.fileAnswer(.init(transferID: id, state: state,
                                                                    verified: state == .accepted ? verified : [],
                                                                    reason: reason.map { String($0.prefix(1000)) },
                                                                    chunkProof: state == .accepted ? proofs : nil))))
            case .sendProgress(let file, let chunks, let complete):
                try await outbound.write(Envelope(.fileProgress(.init(file: UInt32(file), verifiedChunks: chunks,
                                                                      complete: complete ? true : nil))))
            case .sendCancel(let reason):
                try await outbound.write(Envelope(.fileCancel(.init(transferID: id, reason: reason.map { String($0.prefix(1000)) }))))
            case .deletePartials:
                landing?.removeStaging()
            default:
                continue
            }
        }
    }
}
