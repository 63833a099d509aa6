import Foundation
import KithTestSupport
import Testing
@testable import KithWire

/// Limits whose vectors would be too large to ship as JSON, and properties of the decoders
/// that hold for any input.
@Suite struct WireLimitTests {
    @Test func largestFrameDecodesAndOneMoreIsRefusedBeforeBuffering() throws {
        let body = [UInt8](repeating: 0xab, count: WireLimits.maxNoiseMessage)
        var decoder = FrameDecoder()
        decoder.append(try FrameDecoder.encode(body))
        #expect(try decoder.nextFrame() == body)
        #expect(throws: WireError.self) { _ = try FrameDecoder.encode(body + [0]) }

        var small = FrameDecoder(maxBody: 1024)
        small.append([0x04, 0x01])  // announces 1025 bytes: refused before any body arrives
        #expect(throws: WireError.oversized("frame: body of 1025 bytes, limit 1024")) { _ = try small.nextFrame() }
    }

    @Test func envelopeOverTheLimitIsRefusedBothWays() throws {
        var bytes: [UInt8] = [0, 0, 2, 0, 0, 0, 1, 0, 1, 0, 8, 0, 0, 0, 0, 0, 0, 0, 1]
        while bytes.count <= WireLimits.maxEnvelope { bytes += [0, 2, 0xff, 0xff] + [UInt8](repeating: 0, count: 0xffff) }
        #expect(throws: WireError.self) { _ = try Envelope.decode(bytes[...]) }
        let huge = Note(id: [UInt8](repeating: 0, count: 16), sentAtMillis: 0, text: String(repeating: "x", count: 16385))
        #expect(throws: WireError.self) { _ = try Envelope(.note(huge)).encode() }
    }

    @Test func everyMessageRoundTripsThroughItsEnvelope() throws {
        let document = SignedDocument(kind: .roster, body: [0, 1, 0], signer: "a-PC-1", signature: Array(0..<64))
        let messages: [Message] = [
            .errorMessage(.init(code: ErrorCode.rateLimited.rawValue, message: "later", retryAfterMillis: 5)),
            .ping(.init(nonce: .max)), .pong(.init(nonce: 0)), .ack(.init()),
            .hello(.init(protocolVersion: 0, software: "kith/test", deviceName: nil)),
            .note(.init(id: Array(0..<16), sentAtMillis: 1, text: "✓", attachments: [.init(name: "n", data: [1])])),
            .signup(.init(account: "a", password: "p")),
            .login(.init(account: "a", password: "p", terminalType: .mobile, deviceName: "phone", clientVersion: "v",
                         deviceKey: Array(0..<32), addresses: ["127.0.0.1:1"])),
            .resume(.init(token: Array(0..<32))), .logout(.init()),
            .loginResult(.init(account: "a", deviceID: "a-MP-1", token: Array(0..<32), expiresAtMillis: 9)),
            .deviceList(.init(revision: 1, devices: [.init(deviceID: "a-MP-1", name: "phone", terminalType: .mobile,
                                                          key: Array(0..<32), online: false, lastSeenMillis: 0,
                                                          clientVersion: "v")])),
            .relaySend(.init(to: "a-PC-1", payload: [1])), .relayDeliver(.init(relayID: 1, from: "a-MP-1", payload: [])),
            .relayAck(.init(relayID: 1)),
            .chat(.init(id: Array(0..<16), sentAtMillis: 2, text: "hi")),
            .viewed(.init(viewedAtMillis: 3, items: [.init(code: 4, sentAtMillis: 2, sender: "b-PC-1", clipMode: .start, clipLimit: 2,
                                                           clip: [0x68, 0x69])],
                          upTo: [.init(contact: "b", code: 4)])),
            .contactRequest(.init(account: "b")), .contactAccept(.init(account: "b")), .contactRemove(.init(account: "b")),
            .contactList(.init(revision: 5, contacts: [.init(account: "b", state: .contact)])),
            .contactDevices(.init(account: "b", revision: 6, devices: [])),
            .chatSend(.init(to: "b-PC-1", messageID: Array(0..<16), payload: [1])), .chatAccepted(.init(code: 4)),
            .relayDeliver(.init(relayID: 2, from: "b-PC-1", payload: [2], code: 4)),
            .endpoints(.init(addresses: ["10.0.0.2:7401"], publicAddresses: ["100.64.0.9:40001"])),
            .fileOffer(.init(transferID: Array(0..<16), files: [.init(path: "a/b", size: 7, mode: 0o644),
                                                                 .init(path: "c", size: 0, kind: .folder)],
                             receive: .direct, ttlSeconds: 60, chunkSize: 1 << 20)),
            .fileAnswer(.init(transferID: Array(0..<16), state: .accepted, verified: [1, 0])),
            .fileData(.init(file: 0, offset: 0, data: [1, 2, 3], chunkHash: Array(0..<32))),
            .fileEnd(.init(file: 0, hash: Array(0..<32))),
            .fileProgress(.init(file: 0, verifiedChunks: 1, complete: true)),
            .fileCancel(.init(transferID: Array(0..<16), reason: "no")),
            .transitRequest(.init(to: "a-PC-1")), .transitTicket(.init(ticket: Array(0..<16))),
            .transitOffer(.init(from: "a-MP-1", ticket: Array(0..<16))),
            .documentShare(.init(document: document)), .approveRequest(.init(deviceID: "a-TV-1", key: Array(0..<32))),
            .rosterPublish(.init(roster: document)), .rosterUpdate(.init(roster: document)),
            .policyPublish(.init(policy: document)), .policyUpdate(.init(policy: document)),
            .revoke(.init(deviceID: "a-TV-1")), .contactRoster(.init(account: "b", roster: document)),
            .accountLink(.init(account: "b.work", password: "correct horse")), .accountUnlink(.init(account: "b.work")),
            .accountLinks(.init(master: "a", linked: ["b.work"])), .accountSetMaster(.init(account: "b.work", password: "pw")),
            .forAccount(.init(account: "b.work", message: try Envelope(.ping(.init(nonce: 1))).encode())),
            .watchLogin(.init(account: "a", password: "pw")), .watchSession(.init(token: Array(repeating: 1, count: 32), expiresAtMillis: 5)),
            .watchResume(.init(token: Array(repeating: 2, count: 32))),
            .watchSubscribe(.init(token: Array(repeating: 3, count: 32), contacts: ["b", "c"])),
            .watchState(.init(entries: [WatchEntry(contact: "b", known: true, onlineDevices: 2, unread: 3)])),
            .unreadReport(.init(contact: "b", upToCode: 9, unread: 1)),
        ]
        #expect(Set(messages.map(\.type)) == Set(MessageType.allCases))
        for (i, message) in messages.enumerated() {
            let envelope = Envelope(requestID: UInt32(i), message)
            #expect(try Envelope.decode(try envelope.encode()[...]) == envelope)
        }
    }

    /// A coded byte the schema does not define decodes as `unknown` and goes out again as the
    /// same byte (schema "enums", "unknown": "keep"): a peer neither refuses nor rewrites it.
    @Test func codedBytesKeepValuesTheSchemaDoesNotDefine() throws {
        let bytes = try Envelope(.fileAnswer(.init(transferID: Array(0..<16), state: .unknown(9), verified: []))).encode()
        let decoded = try Envelope.decode(bytes[...])
        guard case .fileAnswer(let answer) = decoded.message else { Issue.record("not a FileAnswer"); return }
        #expect(answer.state == .unknown(9))
        #expect(try decoded.encode() == bytes)
        for value in UInt8.min...UInt8.max {
            let state = FileAnswerState(rawValue: value)
            #expect(state.rawValue == value)
            #expect(FileAnswerState.allCases.contains(state) == (1...6).contains(value), "\(value) is \(state)")
        }
        #expect(FileAnswerState.allCases.map(\.description) == ["waiting", "accepted", "rejected", "expired", "paused", "complete"])
    }

    /// In JSON (the vectors, expected messages in tests) a coded byte is its number.
    @Test func codedBytesAreNumbersInJSON() throws {
        let json = try JSONEncoder().encode(FileEntry(path: "p", size: 0, kind: .folder))
        #expect(String(decoding: json, as: UTF8.self).contains(#""kind":2"#))
        let item = try JSONDecoder().decode(ViewedItem.self, from: Data(#"{"code":1,"sentAtMillis":2,"sender":"b-PC-1","clipMode":7}"#.utf8))
        #expect(item.clipMode == .unknown(7))
    }

    /// Every prefix of a valid envelope fails with a typed error (or decodes, when the cut
    /// falls between fields and only optional ones are lost): never a crash.
    @Test func everyTruncationOfAnEnvelopeIsATypedError() throws {
        let bytes = try Envelope(requestID: 3, .errorMessage(.init(code: 1, message: "m", retryAfterMillis: 2))).encode()
        for cut in 0..<bytes.count {
            do { _ = try Envelope.decode(bytes.prefix(cut)) } catch { #expect([.truncated, .malformed].contains(error.kind)) }
        }
    }

    @Test func randomBytesNeverCrashAnyDecoder() {
        var random = SplitMix64(seed: 7)
        for _ in 0..<20_000 {
            let bytes = (0..<Int(random.next() % 64)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            _ = try? Envelope.decode(bytes[...])
            _ = try? Datagram.decode(bytes[...])
            _ = try? Preamble.decode(bytes[...])
            var decoder = FrameDecoder()
            decoder.append(bytes)
            while (try? decoder.nextFrame()) ?? nil != nil {}
        }
    }

    @Test func generatedCodeMatchesTheSchema() throws {
        let check = try Program.run(URL(fileURLWithPath: "/usr/bin/env"), ["python3", Repository.url("Tools/wiregen").path, "--check"])
        #expect(check.status == 0, "Sources/KithWire/Generated is stale: run Tools/wiregen; \(check.stdout)\(check.stderr)")
    }
}
