import Testing
@testable import KithCore
import KithWire

/// The rules of spec §UDP stream, "Opening and closing", decided without sockets; and the close
/// frame's decoder on truncated and tampered input.
@Suite struct StreamDirectoryTests {
    typealias Directory = StreamDirectory<String>

    static func opener(_ id: UInt32, sequence: UInt64 = 0, first: Bool = true) -> StreamFrame {
        .segment(Segment(streamID: id, sequence: sequence, first: first, last: true, payload: []))
    }

    @Test func aPeerOpensOnlyWithItsParityAndSegmentZero() {
        let directory = Directory()
        // This side opens even ids: the peer opens odd ones.
        #expect(directory.classify(Self.opener(7), from: "b", localOpensEven: true) == .accept)
        #expect(directory.classify(Self.opener(8), from: "b", localOpensEven: true) == .reply(.unknownStream))
        #expect(directory.classify(Self.opener(7, sequence: 1), from: "b", localOpensEven: true) == .reply(.unknownStream))
        #expect(directory.classify(Self.opener(7, first: false), from: "b", localOpensEven: true) == .reply(.unknownStream))
        #expect(directory.classify(.ack(AckFrame(streamID: 7, cumulative: 1, window: 64)), from: "b", localOpensEven: true)
                == .reply(.unknownStream))
        // A close of a stream that is not open is never answered.
        if case .drop = directory.classify(.close(CloseFrame(streamID: 7, code: .done)), from: "b", localOpensEven: true) {} else {
            Issue.record("a close of an unknown stream was not dropped")
        }
    }

    @Test func openStreamsTakeTheirFramesAndClosedOnesStayClosed() {
        var directory = Directory()
        directory.opened(7, with: "b")
        #expect(directory.classify(Self.opener(7, sequence: 5, first: false), from: "b", localOpensEven: true) == .deliver)
        #expect(directory.classify(.close(CloseFrame(streamID: 7, code: .done)), from: "b", localOpensEven: true) == .deliver)
        // Streams are per sibling.
        #expect(directory.classify(Self.opener(7, sequence: 5, first: false), from: "c", localOpensEven: true) == .reply(.unknownStream))
        directory.closed(7, with: "b")
        // A late retransmission of the opener does not open it again.
        #expect(directory.classify(Self.opener(7), from: "b", localOpensEven: true) == .reply(.unknownStream))
    }

    @Test func streamsPerSiblingAreBounded() {
        var directory = Directory()
        for id in 0..<UInt32(Directory.maxStreamsPerPeer) { directory.opened(id * 2 + 1, with: "b") }
        #expect(directory.classify(Self.opener(101), from: "b", localOpensEven: true) == .reply(.tooManyStreams))
        #expect(directory.newID(with: "b", localOpensEven: true, random: { 4 }) == nil)
        #expect(directory.classify(Self.opener(101), from: "c", localOpensEven: true) == .accept)
        #expect(directory.forget("b").count == Directory.maxStreamsPerPeer)
        #expect(directory.classify(Self.opener(101), from: "b", localOpensEven: true) == .accept)
    }

    @Test func newIDsHaveThisSidesParityAndAreFresh() {
        var directory = Directory()
        var draws: [UInt32] = [10, 10, 11, 12]
        directory.opened(10, with: "b")
        // 10 is open; 11 becomes 10 (even side); 12 is free.
        #expect(directory.newID(with: "b", localOpensEven: true, random: { draws.removeFirst() }) == 12)
        #expect(directory.newID(with: "b", localOpensEven: false, random: { 10 }) == 11)
        for id in 0..<Directory.rememberedClosed + 10 {
            directory.opened(UInt32(1000 + 2 * id), with: "b")
            directory.closed(UInt32(1000 + 2 * id), with: "b")
        }
        // Only the last 64 closed ids are remembered.
        #expect(directory.classify(Self.opener(1001), from: "b", localOpensEven: true) == .accept)
        #expect(directory.classify(Self.opener(1001 + 2 * UInt32(Directory.rememberedClosed + 9)), from: "b",
                                   localOpensEven: true) == .accept)
    }

    @Test func closeFramesRoundTripAndRefuseEveryCutAndTamper() throws {
        let close = CloseFrame(streamID: 0xDEADBEEF, code: .tooManyStreams)
        let bytes = close.encoded()
        #expect(bytes == [0x42, 0x02, 0xDE, 0xAD, 0xBE, 0xEF])
        #expect(try StreamFrame.decode(bytes[...]) == .close(close))
        for cut in 0..<bytes.count {
            #expect(throws: WireError.self) { try StreamFrame.decode(bytes.prefix(cut)) }
        }
        #expect(throws: WireError.self) { try StreamFrame.decode((bytes + [0])[...]) }
        for code in UInt8(4)...255 {
            var tampered = bytes
            tampered[1] = code
            #expect(throws: WireError.self) { try StreamFrame.decode(tampered[...]) }
        }
        // Every other first byte is an envelope or nothing: never a stream frame.
        for type in UInt8(0)...255 where !(0x40...0x42).contains(type) {
            var tampered = bytes
            tampered[0] = type
            #expect(!StreamFrameType.isStreamFrame(tampered[...]))
            #expect(throws: WireError.self) { try StreamFrame.decode(tampered[...]) }
        }
    }
}
