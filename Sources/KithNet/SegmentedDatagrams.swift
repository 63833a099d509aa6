#if canImport(Glibc)
import Glibc
#endif
import NIOCore

/// Datagrams to one address, packed for UDP segmentation offload (GSO): runs of datagrams of one
/// size become a single write that the kernel cuts back into those datagrams, so a window of a UDP
/// stream crosses the network stack once per run instead of once per datagram. The datagrams on
/// the wire are byte for byte the ones given, in the same order; only the number of system calls
/// and trips through the stack changes.
///
/// The kernel's rules shape a run: every segment but the last has the run's size, the last may be
/// shorter, at most `maxSegments` segments, and at most `maxBytes` in all (the UDP length field).
public enum SegmentedDatagrams {
    /// The kernel's limit before Linux 6.9 (`UDP_MAX_SEGMENTS`, 128 since); the lower one works on both.
    public static let maxSegments = 64
    /// Bytes one write may carry: a UDP datagram's payload limit over IPv4, with room to spare.
    public static let maxBytes = 65_000

    /// Whether this kernel segments UDP writes and coalesces UDP reads (Linux 5.10 and later).
    public static var kernelOffloads: Bool { System.supportsUDPSegmentationOffload && System.supportsUDPReceiveOffload }

    /// Whether a segmented write failed because it was segmented (a run larger than the link's MTU
    /// allows, a device without checksum offload): then sending goes datagram by datagram. Not for
    /// what any datagram can meet (a closed socket, an unreachable host), which would turn the
    /// kernel's help off for nothing.
    public static func isOffloadFailure(_ error: any Error) -> Bool {
        if let error = error as? ChannelError { return error == .writeMessageTooLarge }
        if let error = error as? IOError { return [EMSGSIZE, EINVAL, EIO].contains(error.errnoCode) }
        return false
    }

    /// One write: `count` datagrams starting at `start`, each `segmentSize` bytes but the last.
    public struct Run: Equatable, Sendable {
        public var start: Int
        public var count: Int
        public var segmentSize: Int

        public init(start: Int, count: Int, segmentSize: Int) {
            self.start = start
            self.count = count
            self.segmentSize = segmentSize
        }
    }

    /// Cuts datagrams of these sizes, in order, into runs; a run of one is an ordinary datagram.
    public static func runs(_ sizes: [Int]) -> [Run] {
        var runs: [Run] = []
        var index = 0
        while index < sizes.count {
            let size = sizes[index]
            var count = 1, bytes = size
            while index + count < sizes.count, count < maxSegments {
                let next = sizes[index + count]
                guard next <= size, bytes + next <= maxBytes else { break }
                count += 1
                bytes += next
                if next < size { break }  // a shorter datagram ends the run
            }
            runs.append(Run(start: index, count: count, segmentSize: size))
            index += count
        }
        return runs
    }

    /// The envelopes to write for `datagrams` to `address`: one per run, a run of several carrying
    /// its segment size for the kernel to cut it at.
    public static func envelopes(_ datagrams: [[UInt8]], to address: SocketAddress,
                                 allocator: ByteBufferAllocator = ByteBufferAllocator()) -> [AddressedEnvelope<ByteBuffer>] {
        runs(datagrams.map(\.count)).map { run in
            guard run.count > 1 else {
                return AddressedEnvelope(remoteAddress: address, data: allocator.buffer(bytes: datagrams[run.start]))
            }
            var buffer = allocator.buffer(capacity: run.count * run.segmentSize)
            for datagram in datagrams[run.start..<run.start + run.count] { buffer.writeBytes(datagram) }
            return AddressedEnvelope(remoteAddress: address, data: buffer,
                                     metadata: .init(ecnState: .transportNotCapable, packetInfo: nil, segmentSize: run.segmentSize))
        }
    }

    /// The datagrams of a read: a buffer the kernel coalesced (GRO) is cut at `segmentSize`,
    /// which it reports; without one, the buffer is one datagram.
    public static func split(_ buffer: ByteBuffer, segmentSize: Int?) -> [[UInt8]] {
        let bytes = buffer.readableBytesView
        guard let segmentSize, segmentSize > 0, bytes.count > segmentSize else { return [Array(bytes)] }
        var datagrams: [[UInt8]] = []
        datagrams.reserveCapacity((bytes.count + segmentSize - 1) / segmentSize)
        var start = bytes.startIndex
        while start < bytes.endIndex {
            let end = min(start + segmentSize, bytes.endIndex)
            datagrams.append(Array(bytes[start..<end]))
            start = end
        }
        return datagrams
    }
}
