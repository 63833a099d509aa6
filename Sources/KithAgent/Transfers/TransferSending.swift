import KithAPI
import Foundation
import KithCore
import KithCrypto
import KithNet
import KithWire
import NIOCore
import NIOPosix

/// The sending side: one run per unfinished outgoing transfer, which keeps finding a stream to
/// the receiver (direct TCP first, else a UDP stream over the direct path, else through the
/// server's transit), offers, and sends from where the receiver says it stands, until the
/// transfer finishes. A relayed run moves to a direct stream (TCP or UDP) as soon as one is
/// possible; the receiver's `verified` makes that a resume, not a restart.
extension Transfers {
    enum Outcome {
        case finished
        case retry(String?)
        case switchPath
    }

    nonisolated func runOutgoing(_ id: [UInt8]) async {
        var backoff = Backoff(baseMillis: 500, capMillis: 30_000)
        while !Task.isCancelled {
            guard let record = await record(id), !record.state.isFinished else { return }
            if await handle(id, .tick).contains(.stopData) { return }  // the receiver did not answer in time
            var outcome = Outcome.retry(nil)
            do {
                let (stream, path) = try await openStream(to: record.peer)
                await setPath(id, path)
                outcome = try await drive(stream, record: record, path: path)
            } catch {
                outcome = .retry("\(error)")
            }
            switch outcome {
            case .finished: return
            case .switchPath: backoff.reset(); continue
            case .retry(let reason):
                await setPath(id, nil)
                guard await handle(id, .streamEnded(reason: reason)).contains(.sendOffer) else { return }
            }
            let delay = backoff.nextDelayMillis { Double.random(in: 0...1) }
            try? await Task.sleep(for: .milliseconds(delay))
        }
    }

    /// A stream to `peer`: TCP to its direct path's address if it has one that answers, else a
    /// UDP stream over that path (path name `direct-udp`, or `lan-udp`), else through the server's transit.
    private nonisolated func openStream(to peer: String) async throws -> (any Conduit, String) {
        guard let key = await environment.siblings()[peer] else {
            throw AgentError(.unknownDevice, "\(peer) is not a device of this account (yet)")
        }
        let role = SecureChannel.Role.initiator(channel: .deviceToDevice, remoteStatic: key)
        if let direct = await environment.directAddress(peer) {
            let address = "\(direct.host):\(direct.port)"
            if await shouldDialTCP(address) {
                let timeout = DirectTCPMemory.dialTimeoutMillis(rttMillis: await environment.directRTT(peer))
                do {
                    let stream = try await DeviceStream.dial(host: direct.host, port: direct.port, role: role, keys: keys,
                                                             ciphers: Self.streamCiphers, group: group,
                                                             timeout: .milliseconds(timeout))
                    await dialedTCP(address, worked: true)
                    return (TCPConduit(stream), direct.path)
                } catch {
                    await dialedTCP(address, worked: false)
                    logger.info("""
                        no direct TCP stream to \(peer) at \(address) (\(error)); trying UDP, and UDP first \
                        for the next \(DirectTCPMemory.retryAfter / 60_000) minutes unless TCP answers a probe
                        """)
                }
            } else {
                // This stream does not wait for TCP, but TCP is still asked in the background: a
                // port opened meanwhile serves the next stream, not one ten minutes later.
                Task { await self.probeTCP(host: direct.host, port: direct.port) }
            }
            do {
                if let conduit = try await environment.udpStream(peer) { return (conduit, direct.path + "-udp") }
            } catch {
                logger.info("no UDP stream to \(peer) (\(error)); using the relay")
            }
        }
        let transit = try await environment.transit(peer)
        let stream = try await DeviceStream.dial(host: transit.host, port: transit.port, ticket: transit.ticket, role: role,
                                                 keys: keys, ciphers: Self.streamCiphers, group: group, timeout: .seconds(5))
        return (TCPConduit(stream), "relay")
    }

    private func shouldDialTCP(_ address: String) -> Bool {
        directTCP.shouldDial(address, now: Self.monotonicMillis())
    }

    private func dialedTCP(_ address: String, worked: Bool) {
        if worked { directTCP.dialSucceeded(address) } else { directTCP.dialFailed(address, now: Self.monotonicMillis()) }
    }

    private static func monotonicMillis() -> UInt64 { DispatchTime.now().uptimeNanoseconds / 1_000_000 }

    /// A TCP connection to a remembered address, closed at once: if it opens, TCP is dialled first
    /// again. One probe per address at a time, however many streams start meanwhile.
    private nonisolated func probeTCP(host: String, port: Int) async {
        let address = "\(host):\(port)"
        guard await probeStarts(address) else { return }
        await probeEnded(address, opened: await tcpAnswers(host: host, port: port))
    }

    /// Whether a TCP connection to `host:port` opens within 2 s; it is closed at once.
    private nonisolated func tcpAnswers(host: String, port: Int) async -> Bool {
        guard let probe = try? await ClientBootstrap(group: group).connectTimeout(.seconds(2))
            .connect(host: host, port: port).get() else { return false }
        probe.close(promise: nil)
        return true
    }

    private func probeStarts(_ address: String) -> Bool { tcpProbes.insert(address).inserted }

    private func probeEnded(_ address: String, opened: Bool) {
        tcpProbes.remove(address)
        guard opened else { return }
        logger.info("\(address) answers TCP again: direct TCP streams are tried first")
        dialedTCP(address, worked: true)
    }

    /// One stream: offer, then answers and progress in, data out, until it ends.
    private nonisolated func drive(_ stream: any Conduit, record: TransferRecord, path: String) async throws -> Outcome {
        let id = record.id
        let channel = stream.handle
        return try await stream.executeThenClose { inbound, outbound in
            try await withThrowingTaskGroup(of: Void.self, returning: Outcome.self) { group in
                defer { group.cancelAll() }
                var events = inbound
                guard case .established(_, let cipher)? = try await events.next() else {
                    return .retry("the receiver closed the stream during the handshake")
                }
                await setCipher(id, cipher)
                await sendingOn(id, channel, outbound: outbound)
                defer { Task { await self.notSendingOn(id, channel) } }
                try await outbound.write(Envelope(.fileOffer(record.offer)))
                if path == "relay" {
                    group.addTask { try await self.watchForDirectPath(id, peer: record.peer, channel: channel) }
                }
                var sending = false
                while let event = try await events.next() {
                    guard case .envelope(let envelope) = event else { continue }
                    switch envelope.message {
                    case .fileAnswer(let answer) where answer.transferID == id:
                        for action in await handle(id, .answer(answer.state, reason: answer.reason)) {
                            switch action {
                            case .startData where !sending:
                                sending = true
                                let verified = answer.verified, proof = answer.chunkProof
                                group.addTask {
                                    await self.sendData(record, verified: verified, proof: proof, outbound: outbound, channel: channel)
                                }
                            case .closeStream: return .retry(nil)
                            case .stopData, .ignored: return .finished
                            default: continue
                            }
                        }
                    case .fileProgress(let progress):
                        await progressed(id, progress)
                    case .fileCancel(let cancel):
                        await handle(id, .peerCancelled(reason: cancel.reason))
                        return .finished
                    case .errorMessage(let error):
                        return .retry("the receiver refused: \(error.message ?? "error \(error.code)")")
                    default:
                        continue
                    }
                }
                if await takeSwitching(id) { return .switchPath }
                return .retry(await self.record(id)?.state.isFinished == true ? nil : "the stream to \(record.peer) closed")
            }
        }
    }

    /// While relayed: once the path to the peer is direct and its TCP port answers, or a UDP
    /// stream may be opened over it, closes this stream so the run moves there. A UDP path through
    /// NATs often has no TCP counterpart: failed TCP tries back off (1 s doubling to a minute)
    /// instead of bouncing the stream, and so do failed UDP stream opens (in `DirectPaths`).
    private nonisolated func watchForDirectPath(_ id: [UInt8], peer: String, channel: ConduitHandle) async throws {
        var wait: UInt64 = 1000
        var failures = Backoff(baseMillis: 2000, capMillis: 60_000)
        while !Task.isCancelled {
            try await Task.sleep(for: .milliseconds(wait))
            guard let direct = await environment.directAddress(peer) else { continue }
            if await !tcpAnswers(host: direct.host, port: direct.port) {
                wait = failures.nextDelayMillis { Double.random(in: 0...1) }
                guard await environment.canOpenUDPStream(peer) else { continue }
            }
            logger.info("transfer \(id.hexString.prefix(8)): a direct path to \(peer) is up; moving the stream there")
            await markSwitching(id)
            channel.close()
            return
        }
    }

    /// Sends every file's remaining chunks and its end, with the chunk proofs the receiver asked
    /// for (`proof`). A fatal problem (a source file changed or unreadable, proofs it cannot give)
    /// ends the transfer with FileCancel; anything else just ends the stream.
    private nonisolated func sendData(_ record: TransferRecord, verified: [UInt32], proof: ChunkProof?,
                                      outbound: ConduitWriter, channel: ConduitHandle) async {
        var pacer = Pacer(bytesPerSecond: settings.maxSendRate)
        do {
            let proofs = try ChunkProofs(answer: proof, offeredKey: record.chunkKey)
            // Proofs of the other kind (a receiver that changed its mind cannot, but one whose
            // store was lost and rebuilt by an older version could) are not used, nor any after them.
            let known = ((try? store.chunkProofs(id: record.id)) ?? [:]).mapValues { Array($0.prefix { $0.count == proofs.length }) }
            for (index, entry) in record.entries.enumerated() where !entry.isFolder {
                if await isComplete(record.id, file: index) { continue }
                let encoder = ChunkEncoder(file: UInt32(index), size: entry.size, chunkSize: record.chunkSize, proofs: proofs)
                let source = try SourceFile(path: entry.source ?? "", expectedSize: entry.size, modifiedNanos: entry.modifiedNanos)
                let skip = index < verified.count ? min(verified[index], encoder.chunkCount) : 0
                // The receiver holds chunks `..<skip`: their proofs come from this side's own record
                // of what it sent (the file is unchanged, checked above), else from reading them again.
                // Only with the source's modification time on record (transfers offered before it was kept: none).
                let known = entry.modifiedNanos == nil ? [] : known[index] ?? []
                while encoder.nextChunk < skip {
                    try Task.checkCancellation()
                    if Int(encoder.nextChunk) < known.count {
                        encoder.skip(proof: known[Int(encoder.nextChunk)])
                    } else {
                        try encoder.skip(try source.read(encoder.nextRange))
                    }
                }
                var unsaved = Int(encoder.nextChunk)
                while !encoder.isDone {
                    try Task.checkCancellation()
                    let range = encoder.nextRange
                    let messages = try encoder.encode(pieces: try source.read(range, pieces: encoder.piece))
                    try await outbound.write(contentsOf: messages.map { Envelope(.fileData($0)) })
                    await count(record.id, sent: UInt64(range.length))
                    await pacer.pace(UInt64(range.length))
                    if Int(encoder.nextChunk) - unsaved >= 16 || encoder.isDone,
                       await self.record(record.id)?.state.isFinished == false {
                        try? store.saveChunkProofs(id: record.id, file: index, first: unsaved,
                                                   Array(encoder.chunkProofs[unsaved...]))
                        unsaved = Int(encoder.nextChunk)
                    }
                }
                try await outbound.write(Envelope(.fileEnd(encoder.end())))
            }
        } catch let error as TransferError where error.fatal {
            await failSending(record.id, reason: error.description, outbound: outbound, channel: channel)
        } catch let error as FileSystemError {
            await failSending(record.id, reason: error.description, outbound: outbound, channel: channel)
        } catch {
            channel.close()  // the stream broke; the run starts another
        }
    }

    private nonisolated func failSending(_ id: [UInt8], reason: String, outbound: ConduitWriter,
                                         channel: ConduitHandle) async {
        logger.error("transfer \(id.hexString.prefix(8)) failed: \(reason)")
        for action in await handle(id, .failed(reason: reason)) {
            if case .sendCancel(let reason) = action {
                try? await outbound.write(Envelope(.fileCancel(.init(transferID: id, reason: reason.map { String($0.prefix(1000)) }))))
            }
        }
        channel.close()  // also when it was over already: this stream's data stops
    }
}
