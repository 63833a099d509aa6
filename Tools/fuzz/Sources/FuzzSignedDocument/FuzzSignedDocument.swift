import FuzzSupport
import KithCore
import KithCrypto
import KithWire

/// Signed rosters and policies (Protocol/roster.md): bytes decoded as a SignedDocument and
/// offered to a RosterBook that holds roster 2 of Protocol/vectors/roster.json (as alice-MP-1)
/// and to a PolicyBook. Whatever the bytes, the books answer with a decision; an accepted
/// roster is newer and is then unchanged, and a document that decodes re-encodes to a document
/// that decodes to the same value. A contact's book pinned to the same roster takes it too. The
/// bytes are also read as a typed recovery key.
@_cdecl("FuzzSignedDocument_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzOne)
}

/// roster.json tcId 16: roster 2, alice-PC-1 primary, alice-MP-1 secondary, signed by alice-PC-1.
let roster2 = "0001000101000200de00010005616c6963650002000400000000000300080000000000000002000400080000018bcfe56802000500490001000a616c6963652d50432d31000200204d592efcf3de89f3c76fe37cd12bf406e68819d2e93935043e63676e41c69f0a00030001010004000e4f6666696365206465736b746f70000500400001000a616c6963652d4d502d3100020020b787017d67607512661733dc74e4ad472c10eee6a848187d0ebe4cb4fe2e379f00030001020004000550686f6e6500060020298be1a3f0c41ad9c2967922cd9d87fa394a0fd24fc575963912225e214d56290003000a616c6963652d50432d310004004048534afdeaded91ff0fc0fc0c4b80b3314e7c402afad5979888b2ea9a599b578c48e357ed86569081e3457d99bc8868709e3aef09dc5c0d2e13b309a062be804"
let phoneKey = "b787017d67607512661733dc74e4ad472c10eee6a848187d0ebe4cb4fe2e379f"

let heldBook: RosterBook = {
    let key = SigningPublicKey(rawValue: [UInt8](hexString: phoneKey)!)!
    var book = RosterBook(account: "alice", holder: .init(deviceID: "alice-MP-1", key: key))
    guard case .accepted = book.consider(encoded: [UInt8](hexString: roster2)!) else { preconditionFailure("fixture refused") }
    return book
}()

let heldContact: ContactRosterBook = {
    var book = ContactRosterBook(account: "alice")
    guard case .accepted = book.consider(try! RosterSigning.decodeDocument([UInt8](hexString: roster2)!)) else {
        preconditionFailure("contact fixture refused")
    }
    return book
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = fuzzInput(data, size)
    if let document = try? RosterSigning.decodeDocument(bytes) {
        guard let again = try? RosterSigning.encode(document) else { preconditionFailure("a decoded document failed to encode") }
        precondition((try? RosterSigning.decodeDocument(again)) == document, "document did not round-trip")
    }
    var book = heldBook
    if case .accepted(let change) = book.consider(encoded: bytes) {
        precondition((change.current.epoch, change.current.version) > (UInt32(0), UInt64(2)), "an accepted roster is not newer")
        precondition(book.consider(encoded: bytes) == .unchanged, "an accepted roster was not unchanged the second time")
    }
    var policies = PolicyBook(account: "alice")
    if case .accepted = policies.consider(encoded: bytes, roster: book) {
        precondition(policies.consider(encoded: bytes, roster: book) == .unchanged)
    }
    // The same roster 2 as a contact's pinned roster (Protocol/roster.md §Contacts' rosters).
    var contact = heldContact
    if let document = try? RosterSigning.decodeDocument(bytes) {
        switch contact.consider(document) {
        case .accepted(let change):
            precondition((change.current.epoch, change.current.version) > (UInt32(0), UInt64(2)), "an accepted contact roster is not newer")
            precondition(contact.consider(document) == .unchanged && contact.maySend)
        case .keyChanged:
            precondition(!contact.maySend && contact.consider(document) == .unchanged, "a key change did not stop sending")
            precondition(contact.trustNewKey() != nil && contact.maySend, "a trusted key change did not allow sending")
        case .unchanged, .refused:
            precondition(contact.current == heldContact.current, "a refused roster changed the contact's book")
        }
    }
    if let key = try? RecoveryKey(parsing: String(decoding: bytes, as: UTF8.self)) {
        precondition((try? RecoveryKey(parsing: key.text))?.publicKey == key.publicKey, "recovery key did not round-trip")
    }
    return 0
}
