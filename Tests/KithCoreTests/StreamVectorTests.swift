import KithTestSupport
import Testing
@testable import KithCore
@testable import KithCrypto
@testable import KithWire

/// Protocol/vectors/stream.json, written by Tools/make-stream-vectors (Python, from spec §UDP
/// stream alone), against the Swift decoders: every valid frame decodes to its meaning and
/// re-encodes to its bytes, every invalid one fails with the spec's error kind, and the sealed
/// case opens in a transport-data packet.
@Suite struct StreamVectorTests {
    struct Meaning: Decodable {
        let frame: String
        let streamID: UInt32
        let sequence: UInt64?
        let first: Bool?
        let last: Bool?
        let payload: String?
        let cumulative: UInt64?
        let window: UInt32?
        let ackDelay: UInt16?
        let ranges: [[UInt64]]?
        let code: String?
        let plaintext: String?
    }

    struct Vector: Decodable, CustomTestStringConvertible {
        let tcId: Int
        let comment: String
        let result: String
        let hex: String
        let meaning: Meaning?
        let error: String?
        let key: String?
        let localIndex: UInt32?
        var testDescription: String { "#\(tcId) \(comment)" }
    }

    static func expected(_ m: Meaning) -> StreamFrame {
        switch m.frame {
        case "segment":
            return .segment(Segment(streamID: m.streamID, sequence: m.sequence!, first: m.first!, last: m.last!,
                                    payload: [UInt8](vectorHex: m.payload!)))
        case "ack":
            return .ack(AckFrame(streamID: m.streamID, cumulative: m.cumulative!, window: m.window!, ackDelay: m.ackDelay!,
                                 ranges: m.ranges!.map { SackRange($0[0], $0[1]) }))
        default:
            let codes: [String: CloseFrame.Code] = ["done": .done, "unknownStream": .unknownStream,
                                                    "tooManyStreams": .tooManyStreams, "error": .error]
            return .close(CloseFrame(streamID: m.streamID, code: codes[m.code!]!))
        }
    }

    /// The frame's plaintext: the case's bytes, or what its sealed packet opens to.
    static func plaintext(_ v: Vector) throws -> [UInt8] {
        let bytes = [UInt8](vectorHex: v.hex)
        guard let key = v.key, let index = v.localIndex else { return bytes }
        let cipher = CipherState(cipher: .chaChaPoly, key: SecretBytes([UInt8](vectorHex: key)))
        var session = DatagramSession(transport: NoiseTransport(send: cipher, receive: cipher, handshakeHash: [],
                                                                remoteStatic: nil),
                                      localIndex: index, remoteIndex: 0)
        guard case let .transportData(receiver, counter, ciphertext) = try Datagram.decode(bytes[...]) else {
            throw WireError.unknownType("not transport data")
        }
        return try session.open(receiverIndex: receiver, counter: counter, ciphertext: ciphertext)
    }

    static func frame(_ v: Vector) -> Result<(StreamFrame, [UInt8]), WireError> {
        let bytes: [UInt8]
        do { bytes = try plaintext(v) } catch { return .failure(error as? WireError ?? .malformed("\(error)")) }
        do { return .success((try StreamFrame.decode(bytes[...]), bytes)) } catch { return .failure(error) }
    }

    @Test(arguments: try VectorFile<Vector>.load("stream.json"))
    func vectors(_ v: Vector) throws {
        switch Self.frame(v) {
        case .success(let (frame, bytes)):
            #expect(v.result == "valid", "decoded an invalid case: \(frame)")
            guard let meaning = v.meaning else { return }
            #expect(frame == Self.expected(meaning))
            #expect(frame.encoded() == bytes)
            if let plaintext = meaning.plaintext {
                #expect(bytes == [UInt8](vectorHex: plaintext))
                #expect(StreamFrameType.isStreamFrame(bytes[...]))
            }
        case .failure(let error):
            #expect(v.result == "invalid", "refused a valid case: \(error)")
            #expect(error.kind.rawValue == v.error)
        }
    }
}
