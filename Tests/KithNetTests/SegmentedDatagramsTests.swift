import KithNet
import NIOCore
import Testing

/// Runs for UDP segmentation offload follow the kernel's rules (every segment of a write but the
/// last has the write's size, at most 64 of them, within a UDP datagram's length), and a read the
/// kernel coalesced comes apart into exactly the datagrams that were sent.
@Suite struct SegmentedDatagramsTests {
    typealias Run = SegmentedDatagrams.Run

    @Test func equalDatagramsMakeOneRunAndAShorterOneEndsIt() {
        #expect(SegmentedDatagrams.runs([1345, 1345, 1345, 200, 1345]) == [
            Run(start: 0, count: 4, segmentSize: 1345), Run(start: 4, count: 1, segmentSize: 1345),
        ])
    }

    @Test func aLongerDatagramStartsANewRun() {
        #expect(SegmentedDatagrams.runs([60, 60, 1345, 1345]) == [
            Run(start: 0, count: 2, segmentSize: 60), Run(start: 2, count: 2, segmentSize: 1345),
        ])
    }

    @Test func runsStopAtTheSegmentAndByteLimits() {
        let many = SegmentedDatagrams.runs(Array(repeating: 100, count: 150))
        #expect(many.map(\.count) == [64, 64, 22])
        let large = SegmentedDatagrams.runs(Array(repeating: 1400, count: 100))
        #expect(large.allSatisfy { $0.count * 1400 <= SegmentedDatagrams.maxBytes })
        #expect(large.map(\.count).reduce(0, +) == 100)
        #expect(large.first?.count == SegmentedDatagrams.maxBytes / 1400)
        #expect(SegmentedDatagrams.runs([]) == [])
    }

    @Test func envelopesCarryTheSegmentSizeOnlyForRunsOfSeveral() {
        let address = try! SocketAddress(ipAddress: "127.0.0.1", port: 9)
        let datagrams: [[UInt8]] = [[1, 2, 3], [4, 5, 6], [7], [8, 9, 10, 11]]
        let envelopes = SegmentedDatagrams.envelopes(datagrams, to: address)
        #expect(envelopes.count == 2)
        #expect(envelopes[0].metadata?.segmentSize == 3)
        #expect(Array(envelopes[0].data.readableBytesView) == [1, 2, 3, 4, 5, 6, 7])
        #expect(envelopes[1].metadata == nil)
        #expect(Array(envelopes[1].data.readableBytesView) == [8, 9, 10, 11])
    }

    @Test func aCoalescedReadSplitsBackIntoTheDatagramsSent() {
        let datagrams: [[UInt8]] = [Array(repeating: 1, count: 5), Array(repeating: 2, count: 5), [3, 3]]
        let address = try! SocketAddress(ipAddress: "127.0.0.1", port: 9)
        let written = SegmentedDatagrams.envelopes(datagrams, to: address)
        #expect(written.count == 1)
        #expect(SegmentedDatagrams.split(written[0].data, segmentSize: written[0].metadata?.segmentSize) == datagrams)
    }

    @Test func aReadWithoutASegmentSizeIsOneDatagram() {
        let buffer = ByteBuffer(bytes: [1, 2, 3, 4])
        #expect(SegmentedDatagrams.split(buffer, segmentSize: nil) == [[1, 2, 3, 4]])
        #expect(SegmentedDatagrams.split(buffer, segmentSize: 4) == [[1, 2, 3, 4]])
        #expect(SegmentedDatagrams.split(buffer, segmentSize: 0) == [[1, 2, 3, 4]])
        #expect(SegmentedDatagrams.split(ByteBuffer(), segmentSize: 3) == [[]])
    }
}
