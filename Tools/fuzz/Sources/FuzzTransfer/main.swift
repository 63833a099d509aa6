import FuzzSupport
import KithCore
import KithWire

/// What a sibling's transfer stream can feed a receiver: an offer, then data and ends. Names
/// that pass must be safe; no sequence of messages may trap the receiver.
@_cdecl("FuzzTransfer_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzOne)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = fuzzInput(data, size)
    // Any bytes as a path: what passes has no empty, "." or ".." component and no separator inside one.
    if let components = try? TransferName.components(of: String(decoding: input, as: UTF8.self)) {
        for part in components {
            precondition(!part.isEmpty && part != "." && part != ".." && !part.utf8.contains(0x2F), "unsafe component \(part)")
        }
    }
    // As a stream: u16-length-prefixed envelopes, the first an offer.
    var messages: [Message] = [], index = 0
    while index + 2 <= input.count {
        let length = Int(input[index]) << 8 | Int(input[index + 1])
        index += 2
        guard index + length <= input.count else { break }
        if let envelope = try? Envelope.decode(input[index..<(index + length)]) { messages.append(envelope.message) }
        index += length
    }
    guard case .fileOffer(let offer)? = messages.first, let checked = try? CheckedOffer(offer) else { return 0 }
    for entry in checked.entries {
        precondition(!entry.components.isEmpty && !entry.components.contains("..") && entry.mode & ~0o777 == 0)
    }
    let receiver = TransferReceiver(offer: checked, proofs: ChunkProofs(chunkKey: offer.chunkKey), progress: [], commitEvery: 1 << 16)
    for message in messages.dropFirst() {
        let actions: [TransferReceiver.Action]
        do {
            switch message {
            case .fileData(let data): actions = try receiver.receive(data)
            case .fileEnd(let end): actions = try receiver.end(end)
            default: continue
            }
        } catch {
            receiver.streamEnded()
            continue
        }
        for case .place(let file) in actions { receiver.placed(file) }
    }
    return 0
}
