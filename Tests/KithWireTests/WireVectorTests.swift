import Foundation
import KithTestSupport
import Testing
@testable import KithWire

/// Protocol/vectors, computed by Tools/make-vectors (Python, from the spec), decoded by Swift.
@Suite struct WireVectorTests {
    struct Vector: Decodable, CustomTestStringConvertible {
        let tcId: Int
        let comment: String
        let result: String
        let hex: String
        let error: String?
        let frames: [String]?
        /// A valid input that this implementation encodes differently (`meaning.canonical: false`).
        let meaning: Canonical?
        struct Canonical: Decodable { let canonical: Bool? }
        var bytes: [UInt8] { [UInt8](vectorHex: hex) }
        var testDescription: String { "#\(tcId) \(comment)" }
    }

    @Test(arguments: try VectorFile<Vector>.load("preamble.json"))
    func preamble(_ v: Vector) throws {
        if v.result == "valid" {
            for cut in 0..<v.bytes.count {
                #expect(try Preamble.decode(v.bytes.prefix(cut)) == nil, "a partial preamble waits for more")
            }
            let decoded = try #require(try Preamble.decode(v.bytes[...]))
            #expect(decoded.bytes == v.bytes)
        } else {
            #expect(Self.errorKind { _ = try Preamble.decode(v.bytes[...]) } == v.error)
        }
    }

    @Test(arguments: try VectorFile<Vector>.load("frame.json"))
    func frames(_ v: Vector) throws {
        for delivery in deliveries(of: v.bytes) {
            var decoder = FrameDecoder()
            var frames: [[UInt8]] = []
            var failure: WireError.Kind?
            do {
                for chunk in delivery.chunks {
                    decoder.append(chunk)
                    while let frame = try decoder.nextFrame() { frames.append(frame) }
                }
            } catch {
                failure = error.kind
            }
            if v.result == "valid" {
                #expect(failure == nil, "\(delivery.name)")
                #expect(frames.map(\.hexString) == v.frames!, "\(delivery.name)")
            } else {
                #expect(failure?.rawValue == v.error, "\(delivery.name)")
            }
        }
    }

    struct DatagramVector: Decodable, CustomTestStringConvertible {
        struct Meaning: Decodable {
            let type: String
            let senderIndex: UInt32?, receiverIndex: UInt32?, counter: UInt64?
            let noiseMessage: String?, ciphertext: String?
            let nonce: String?, family: UInt8?, ip: String?, port: UInt16?
            let sealedCookie: String?, rest: String?
        }
        let tcId: Int, comment: String, result: String, hex: String
        let meaning: Meaning?
        var testDescription: String { "#\(tcId) \(comment)" }
    }

    /// The decoded fields, compared with the vector's meaning (not only a round trip, which a
    /// decoder and encoder that agree on a mistake would pass).
    @Test(arguments: try VectorFile<DatagramVector>.load("datagram.json").filter { $0.result == "valid" })
    func datagramMeanings(_ v: DatagramVector) throws {
        let m = try #require(v.meaning)
        let expected: Datagram = switch m.type {
        case "handshakeInitiation": .handshakeInitiation(senderIndex: m.senderIndex!, noiseMessage: [UInt8](vectorHex: m.noiseMessage!))
        case "handshakeResponse": .handshakeResponse(senderIndex: m.senderIndex!, receiverIndex: m.receiverIndex!,
                                                     noiseMessage: [UInt8](vectorHex: m.noiseMessage!))
        case "endpointProbe": .endpointProbe(nonce: [UInt8](vectorHex: m.nonce!))
        case "endpointReply": .endpointReply(nonce: [UInt8](vectorHex: m.nonce!),
                                             observed: EndpointAddress(ip: [UInt8](vectorHex: m.ip!), port: m.port!))
        case "cookieReply": .cookieReply(receiverIndex: m.receiverIndex!, nonce: [UInt8](vectorHex: m.nonce!),
                                         sealedCookie: [UInt8](vectorHex: m.sealedCookie!))
        case "cookiedInitiation": .cookiedInitiation(senderIndex: m.senderIndex!, rest: [UInt8](vectorHex: m.rest!))
        default: .transportData(receiverIndex: m.receiverIndex!, counter: m.counter!, ciphertext: [UInt8](vectorHex: m.ciphertext!))
        }
        if m.type == "endpointReply" { #expect([UInt8](vectorHex: m.ip!).count == (m.family == 4 ? 4 : 16)) }
        #expect(try Datagram.decode([UInt8](vectorHex: v.hex)[...]) == expected)
    }

    @Test(arguments: try VectorFile<Vector>.load("datagram.json"))
    func datagrams(_ v: Vector) throws {
        if v.result == "valid" {
            let decoded = try Datagram.decode(v.bytes[...])
            if v.meaning?.canonical != false { #expect(try decoded.encode() == v.bytes) }
        } else {
            #expect(Self.errorKind { _ = try Datagram.decode(v.bytes[...]) } == v.error)
        }
    }

    struct EnvelopeVector: Decodable, CustomTestStringConvertible {
        struct Meaning: Decodable {
            let requestID: UInt32
            let type: String
            let canonical: Bool?
        }
        let tcId: Int
        let comment: String
        let result: String
        let hex: String
        let error: String?
        let meaning: Meaning?
        var testDescription: String { "#\(tcId) \(comment)" }
    }

    @Test(arguments: try VectorFile<EnvelopeVector>.load("envelope.json"))
    func envelopes(_ v: EnvelopeVector) throws {
        let bytes = [UInt8](vectorHex: v.hex)
        guard let meaning = v.meaning else {
            #expect(Self.errorKind { _ = try Envelope.decode(bytes[...]) } == v.error)
            return
        }
        let decoded = try Envelope.decode(bytes[...])
        #expect(decoded.requestID == meaning.requestID)
        #expect("\(decoded.message.type)" == meaning.type)
        #expect(decoded.message == (try Self.expectedMessage(v.hex)))
        if meaning.canonical ?? true {
            #expect(try decoded.encode() == bytes)
        }
    }

    /// Builds the expected message from the vector's JSON `meaning.body` with the generated
    /// types' Codable conformance, independently of the binary decoder under test.
    static func expectedMessage(_ hex: String) throws -> Message {
        let vectors = try VectorFile<RawEnvelopeVector>.load("envelope.json")
        let raw = try #require(vectors.first { $0.hex == hex }?.meaning)
        let body = try JSONSerialization.data(withJSONObject: raw.body.value)
        let decoder = JSONDecoder()
        let type = try #require(MessageType.allCases.first { "\($0)" == raw.type })
        return switch type {
        case .errorMessage: .errorMessage(try decoder.decode(ErrorMessage.self, from: body))
        case .ping: .ping(try decoder.decode(Ping.self, from: body))
        case .pong: .pong(try decoder.decode(Pong.self, from: body))
        case .hello: .hello(try decoder.decode(Hello.self, from: body))
        case .ack: .ack(try decoder.decode(Ack.self, from: body))
        case .signup: .signup(try decoder.decode(Signup.self, from: body))
        case .login: .login(try decoder.decode(Login.self, from: body))
        case .resume: .resume(try decoder.decode(Resume.self, from: body))
        case .loginResult: .loginResult(try decoder.decode(LoginResult.self, from: body))
        case .logout: .logout(try decoder.decode(Logout.self, from: body))
        case .deviceList: .deviceList(try decoder.decode(DeviceList.self, from: body))
        case .relaySend: .relaySend(try decoder.decode(RelaySend.self, from: body))
        case .relayDeliver: .relayDeliver(try decoder.decode(RelayDeliver.self, from: body))
        case .relayAck: .relayAck(try decoder.decode(RelayAck.self, from: body))
        case .chat: .chat(try decoder.decode(Chat.self, from: body))
        case .viewed: .viewed(try decoder.decode(Viewed.self, from: body))
        case .contactRequest: .contactRequest(try decoder.decode(ContactRequest.self, from: body))
        case .contactAccept: .contactAccept(try decoder.decode(ContactAccept.self, from: body))
        case .contactRemove: .contactRemove(try decoder.decode(ContactRemove.self, from: body))
        case .contactList: .contactList(try decoder.decode(ContactList.self, from: body))
        case .contactDevices: .contactDevices(try decoder.decode(ContactDevices.self, from: body))
        case .chatSend: .chatSend(try decoder.decode(ChatSend.self, from: body))
        case .chatAccepted: .chatAccepted(try decoder.decode(ChatAccepted.self, from: body))
        case .endpoints: .endpoints(try decoder.decode(Endpoints.self, from: body))
        case .note: .note(try decoder.decode(Note.self, from: body))
        case .fileOffer: .fileOffer(try decoder.decode(FileOffer.self, from: body))
        case .fileAnswer: .fileAnswer(try decoder.decode(FileAnswer.self, from: body))
        case .fileData: .fileData(try decoder.decode(FileData.self, from: body))
        case .fileEnd: .fileEnd(try decoder.decode(FileEnd.self, from: body))
        case .fileProgress: .fileProgress(try decoder.decode(FileProgress.self, from: body))
        case .fileCancel: .fileCancel(try decoder.decode(FileCancel.self, from: body))
        case .transitRequest: .transitRequest(try decoder.decode(TransitRequest.self, from: body))
        case .transitTicket: .transitTicket(try decoder.decode(TransitTicket.self, from: body))
        case .transitOffer: .transitOffer(try decoder.decode(TransitOffer.self, from: body))
        case .documentShare: .documentShare(try decoder.decode(DocumentShare.self, from: body))
        case .approveRequest: .approveRequest(try decoder.decode(ApproveRequest.self, from: body))
        case .rosterPublish: .rosterPublish(try decoder.decode(RosterPublish.self, from: body))
        case .rosterUpdate: .rosterUpdate(try decoder.decode(RosterUpdate.self, from: body))
        case .policyPublish: .policyPublish(try decoder.decode(PolicyPublish.self, from: body))
        case .policyUpdate: .policyUpdate(try decoder.decode(PolicyUpdate.self, from: body))
        case .revoke: .revoke(try decoder.decode(Revoke.self, from: body))
        case .contactRoster: .contactRoster(try decoder.decode(ContactRoster.self, from: body))
        case .accountLink: .accountLink(try decoder.decode(AccountLink.self, from: body))
        case .accountUnlink: .accountUnlink(try decoder.decode(AccountUnlink.self, from: body))
        case .accountLinks: .accountLinks(try decoder.decode(AccountLinks.self, from: body))
        case .forAccount: .forAccount(try decoder.decode(ForAccount.self, from: body))
        case .accountSetMaster: .accountSetMaster(try decoder.decode(AccountSetMaster.self, from: body))
        case .watchLogin: .watchLogin(try decoder.decode(WatchLogin.self, from: body))
        case .watchSession: .watchSession(try decoder.decode(WatchSession.self, from: body))
        case .watchResume: .watchResume(try decoder.decode(WatchResume.self, from: body))
        case .watchSubscribe: .watchSubscribe(try decoder.decode(WatchSubscribe.self, from: body))
        case .watchState: .watchState(try decoder.decode(WatchState.self, from: body))
        case .unreadReport: .unreadReport(try decoder.decode(UnreadReport.self, from: body))
        }
    }

    @Test func everyMessageTypeHasAValidVector() throws {
        let types = Set(try VectorFile<EnvelopeVector>.load("envelope.json").compactMap { $0.meaning?.type })
        #expect(types == Set(MessageType.allCases.map { "\($0)" }))
    }

    /// The kind of WireError `body` throws ("none" if it succeeds), to compare with a vector.
    static func errorKind(_ body: () throws -> Void) -> String {
        do { try body(); return "none" } catch let error as WireError { return error.kind.rawValue } catch {
            return "untyped error \(error)"
        }
    }
}

struct RawEnvelopeVector: Decodable {
    struct Meaning: Decodable { let type: String; let body: AnyJSON }
    let hex: String
    let meaning: Meaning?
}

/// Any JSON value, kept as Foundation objects so it can be re-serialised for Codable.
struct AnyJSON: Decodable {
    let value: Any
    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let v = try? c.decode([String: AnyJSON].self) { value = v.mapValues(\.value) }
        else if let v = try? c.decode([AnyJSON].self) { value = v.map(\.value) }
        else if let v = try? c.decode(Bool.self) { value = v }
        else if let v = try? c.decode(UInt64.self) { value = v }
        else if let v = try? c.decode(String.self) { value = v }
        else { value = NSNull() }
    }
}

extension Sequence where Element == UInt8 {
    var hexString: String { map { String(format: "%02x", $0) }.joined() }
}
