import Foundation
import KithCrypto
import KithTestSupport
import KithWire
import Testing
@testable import KithCore

/// Protocol/vectors/roster.json, computed by Tools/make-roster-vectors (Python: `cryptography`'s
/// Ed25519, hashlib's BLAKE2b and its own reading of Protocol/roster.md's rules), against the
/// Swift code: recovery key text, the exact bytes signed, and every accept/refuse decision with
/// its reason.
@Suite struct RosterVectorTests {
    struct File: Decodable {
        let account: String
        let keys: [Key]
        let vectors: [Vector]
    }

    struct Key: Decodable {
        let name: String
        let seed: String
        let `public`: String
        let secret: String?
    }

    struct Device: Decodable {
        let deviceID: String
        let key: String
        let role: RosterRole
        let name: String
    }

    struct Rule: Decodable {
        let sender: String
        let permission: ReceivePermission
        let folder: String?
    }

    /// A roster's or a policy's fields, as the vectors spell them.
    struct Meaning: Decodable {
        let account: String
        let epoch: UInt32
        let version: UInt64
        let issuedAtMillis: UInt64
        // roster
        let devices: [Device]?
        let recoveryKey: String?
        // policy
        let deviceID: String?
        let receive: [Rule]?
        let siblingsReceive: ReceivePermission?
        let siblingsFolder: String?
        let push: PushScope?
        let pushTo: [String]?
        let messages: MessageAlert?
        let keepHistory: Bool?
        let mayApprove: Bool?

        var roster: Roster {
            Roster(account: account, epoch: epoch, version: version, issuedAtMillis: issuedAtMillis,
                   devices: devices!.map { RosterDevice(deviceID: $0.deviceID, key: [UInt8](vectorHex: $0.key), role: $0.role, name: $0.name) },
                   recoveryKey: [UInt8](vectorHex: recoveryKey!))
        }

        var policy: DevicePolicy {
            DevicePolicy(account: account, deviceID: deviceID!, epoch: epoch, version: version, issuedAtMillis: issuedAtMillis,
                         receive: receive!.map { ReceiveRule(sender: $0.sender, permission: $0.permission, folder: $0.folder) },
                         siblingsReceive: siblingsReceive!, siblingsFolder: siblingsFolder, push: push!, pushTo: pushTo!,
                         messages: messages!, keepHistory: keepHistory!, mayApprove: mayApprove!)
        }
    }

    struct Vector: Decodable, CustomTestStringConvertible {
        let tcId: Int
        let comment: String
        let kind: String
        let result: String
        let error: String?
        // recoveryKey, recoveryKeyText
        let secret: String?
        let `public`: String?
        let text: String?
        // document
        let documentKind: DocumentKind?
        let signer: String?
        let meaning: Meaning?
        let body: String?
        let signedBytes: String?
        let signature: String?
        let hex: String?
        // roster, policy
        let holder: String?
        let setup: [String]?
        let decision: String?
        let problem: String?
        let wireError: String?
        var testDescription: String { "#\(tcId) \(comment)" }
    }

    static let file: File = {
        let data = try! Data(contentsOf: Repository.url("Protocol/vectors/roster.json"))
        return try! JSONDecoder().decode(File.self, from: data)
    }()

    static func identity(_ name: String) -> DeviceIdentity {
        DeviceIdentity(seed: [UInt8](vectorHex: file.keys.first { $0.name == name }!.seed))!
    }

    static func holder(_ name: String?) -> RosterBook.Holder? {
        name.map { .init(deviceID: $0, key: identity($0).publicKey) }
    }

    static func vectors(_ kind: String) -> [Vector] { file.vectors.filter { $0.kind == kind } }

    @Test(arguments: vectors("recoveryKey"))
    func recoveryKey(_ v: Vector) throws {
        let key = try #require(RecoveryKey(secret: [UInt8](vectorHex: v.secret!)))
        #expect(key.publicKey.rawValue.hexString == v.public)
        #expect(key.text == v.text)
        #expect(try RecoveryKey(parsing: v.text!).publicKey == key.publicKey)
    }

    @Test(arguments: vectors("recoveryKeyText"))
    func recoveryKeyText(_ v: Vector) {
        do {
            let key = try RecoveryKey(parsing: v.text!)
            #expect(v.result == "valid" && key.publicKey.rawValue.hexString == v.public)
        } catch {
            let name = switch error {
            case .invalidCharacter: "invalidCharacter"
            case .wrongLength: "wrongLength"
            case .checkSymbolMismatch: "checkSymbolMismatch"
            }
            #expect(v.result == "invalid" && name == v.error)
        }
    }

    @Test(arguments: vectors("document"))
    func document(_ v: Vector) throws {
        let meaning = try #require(v.meaning)
        let kind = try #require(v.documentKind)
        let body = kind == .roster ? try RosterSigning.body(of: meaning.roster) : try RosterSigning.body(of: meaning.policy)
        #expect(body.hexString == v.body)
        #expect(RosterSigning.signedBytes(kind: kind, body: body)?.hexString == v.signedBytes)
        let signer = Self.identity(v.signer!)
        let signed = kind == .roster ? try RosterSigning.sign(meaning.roster, signer: v.signer!, with: signer)
            : try RosterSigning.sign(meaning.policy, signer: v.signer!, with: signer)
        #expect(signed.signature.hexString == v.signature, "Ed25519 is deterministic")
        #expect(try RosterSigning.encode(signed).hexString == v.hex)
        let decoded = try RosterSigning.decodeDocument([UInt8](vectorHex: v.hex!))
        #expect(decoded == signed && RosterSigning.signatureIsValid(decoded, key: signer.publicKey))
        if kind == .roster { #expect(try RosterSigning.roster(in: decoded) == meaning.roster) }
        else { #expect(try RosterSigning.policy(in: decoded) == meaning.policy) }
    }

    @Test(arguments: vectors("roster"))
    func roster(_ v: Vector) throws {
        var book = RosterBook(account: Self.file.account, holder: Self.holder(v.holder))
        for (i, hex) in v.setup!.enumerated() {
            guard case .accepted = book.consider(encoded: [UInt8](vectorHex: hex)) else {
                Issue.record("setup document \(i) refused"); return
            }
        }
        let decision = book.consider(encoded: [UInt8](vectorHex: v.hex!))
        switch decision {
        case .accepted: #expect(v.result == "valid" && v.decision == "accepted")
        case .unchanged: #expect(v.result == "valid" && v.decision == "unchanged")
        case .refused(let refusal):
            #expect(v.result == "invalid" && refusal.name == v.error, "\(refusal)")
            if case .invalid(let problem) = refusal { #expect(problem.name == v.problem) }
            if case .malformed(let error) = refusal { #expect(error.kind.rawValue == v.wireError) }
        }
    }

    @Test(arguments: vectors("policy"))
    func policy(_ v: Vector) throws {
        var roster = RosterBook(account: Self.file.account, holder: Self.holder(v.holder))
        var policies = PolicyBook(account: Self.file.account)
        for (i, hex) in v.setup!.enumerated() {
            let document = try RosterSigning.decodeDocument([UInt8](vectorHex: hex))
            let accepted: Bool
            if document.kind == .roster {
                if case .accepted = roster.consider(document) { accepted = true } else { accepted = false }
            } else {
                if case .accepted = policies.consider(document, roster: roster) { accepted = true } else { accepted = false }
            }
            guard accepted else { Issue.record("setup document \(i) refused"); return }
        }
        let decision = policies.consider(encoded: [UInt8](vectorHex: v.hex!), roster: roster)
        switch decision {
        case .accepted(let accepted, _):
            #expect(v.result == "valid" && v.decision == "accepted")
            #expect(accepted.policy == v.meaning?.policy)
        case .unchanged: #expect(v.result == "valid" && v.decision == "unchanged")
        case .refused(let refusal):
            #expect(v.result == "invalid" && refusal.name == v.error, "\(refusal)")
            if case .invalid(let problem) = refusal { #expect(problem.name == v.problem) }
            if case .malformed(let error) = refusal { #expect(error.kind.rawValue == v.wireError) }
        }
    }

    @Test func everyKindOfVectorIsThere() {
        let kinds = Dictionary(grouping: Self.file.vectors, by: \.kind).mapValues(\.count)
        #expect(Set(kinds.keys) == ["recoveryKey", "recoveryKeyText", "document", "roster", "policy"])
        let refusals = Set(Self.file.vectors.compactMap(\.error))
        for name in ["wrongKind", "malformed", "invalidRoster", "wrongAccount", "notForThisDevice", "firstRosterSigner",
                     "notNewer", "signerNotPrimary", "badSignature", "epochChanged", "recoveryKeyChanged", "epochNotRaised",
                     "invalidPolicy", "noRoster", "wrongEpoch", "notInRoster", "governsPrimary"] {
            #expect(refusals.contains(name), "no vector refuses with \(name)")
        }
        print("roster vectors: \(Self.file.vectors.count) loaded (\(kinds.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")))")
    }
}
