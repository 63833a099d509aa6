import Foundation
import KithCrypto
import KithTestSupport
import KithWire
import Testing
@testable import KithCore

/// Protocol/vectors/contact.json, computed by Tools/make-contact-vectors (Python: hashlib's
/// BLAKE2b, `cryptography`'s Ed25519 and its own reading of Protocol/identity.md §Safety code and
/// Protocol/roster.md §Contacts' rosters), against the Swift code: the safety code's groups and
/// text, and every step of a contact book — decision, refusal, trust, held and waiting roster, K.
@Suite struct ContactVectorTests {
    struct File: Decodable {
        let description: String
        let vectors: [Vector]
    }

    struct Side: Decodable {
        let account: String
        let accountHex: String
        let recoveryKey: String
    }

    struct Step: Decodable {
        let comment: String
        let action: String
        // consider
        let hex: String?
        let decision: String?
        let error: String?
        let problem: String?
        let wireError: String?
        // trust
        let changed: Bool?
        // verify
        let verifiedNow: Bool?
        // after every step
        let trust: String
        let verified: Bool
        let held: String?
        let waiting: String?
        let knownPrimaries: [String]
    }

    struct Vector: Decodable, CustomTestStringConvertible {
        let tcId: Int
        let comment: String
        let kind: String
        let result: String
        let flags: [String]?
        // safetyCode
        let a: Side?
        let b: Side?
        let values: [UInt32]?
        let code: String?
        // contactRoster
        let account: String?
        let steps: [Step]?
        var testDescription: String { "#\(tcId) \(comment)" }
    }

    static let file: File = {
        let data = try! Data(contentsOf: Repository.url("Protocol/vectors/contact.json"))
        return try! JSONDecoder().decode(File.self, from: data)
    }()

    static func vectors(_ kind: String) -> [Vector] { file.vectors.filter { $0.kind == kind } }

    static func side(_ s: Side) throws -> SafetyCode.Side {
        // The account's bytes are authoritative (some names differ only in Unicode normalization).
        let account = String(decoding: [UInt8](vectorHex: s.accountHex), as: UTF8.self)
        #expect(Array(account.utf8) == [UInt8](vectorHex: s.accountHex))
        return SafetyCode.Side(account: account, recoveryKey: try #require(SigningPublicKey(rawValue: [UInt8](vectorHex: s.recoveryKey))))
    }

    @Test(arguments: vectors("safetyCode"))
    func safetyCode(_ v: Vector) throws {
        let a = try Self.side(try #require(v.a)), b = try Self.side(try #require(v.b))
        let code = SafetyCode(a, b)
        let swapped = SafetyCode(b, a)
        let name = "tcId \(v.tcId) (\(v.comment))"
        // The names are sorted by their UTF-8 bytes: canonically equivalent names ("é" as c3 a9
        // and as 65 cc 81) are different names here (flag canonicalEquivalence).
        #expect(code.values == v.values, "\(name): values")
        #expect(code.description == v.code, "\(name): text")
        #expect(code.description.count == 47, "\(name): 47 characters")
        #expect(swapped == code, "\(name): the same with the sides swapped")
    }

    /// What the book says after a step, in the vectors' words.
    struct State: Equatable {
        let trust: String
        let verified: Bool
        let held: String?
        let waiting: String?
        let knownPrimaries: Set<String>

        init(_ book: ContactRosterBook) {
            trust = book.trust.description
            if case .keyChanged(let wasVerified) = book.trust { verified = wasVerified } else { verified = book.verified }
            held = book.current?.label
            waiting = book.pendingRoster?.label
            knownPrimaries = Set(book.knownPrimaries.map(\.rawValue.hexString))
        }

        init(_ step: Step) {
            trust = step.trust
            verified = step.verified
            held = step.held
            waiting = step.waiting
            knownPrimaries = Set(step.knownPrimaries)
        }
    }

    /// Runs the steps; with `restoring`, the book is stored and restored (H's bytes, verified, K,
    /// W) before every step, which must change nothing.
    static func run(_ v: Vector, restoring: Bool) throws {
        var book = ContactRosterBook(account: try #require(v.account))
        for (i, step) in try #require(v.steps).enumerated() {
            let name = "tcId \(v.tcId) (\(v.comment)) step \(i) (\(step.comment))\(restoring ? ", restored before each step" : "")"
            if restoring, let document = book.document {
                book = try ContactRosterBook(account: book.account, restoring: document, verified: book.verified,
                                             knownPrimaries: book.knownPrimaries, pending: book.pendingChange)
            }
            switch step.action {
            case "consider":
                let bytes = [UInt8](vectorHex: try #require(step.hex))
                let decision: ContactRosterDecision
                do {
                    decision = book.consider(try RosterSigning.decodeDocument(bytes))
                } catch {
                    decision = .refused(.malformed(error))   // as RosterBook.consider(encoded:)
                }
                switch decision {
                case .accepted(let change):
                    #expect(step.decision == "accepted", "\(name): accepted \(change.current.label)")
                    #expect(change.current.label == step.held, "\(name): the change's roster")
                case .unchanged:
                    #expect(step.decision == "unchanged", "\(name): unchanged")
                case .keyChanged(let roster):
                    #expect(step.decision == "keyChanged", "\(name): keyChanged to \(roster.label)")
                    #expect(roster.label == step.waiting, "\(name): the waiting roster")
                case .refused(let refusal):
                    #expect(step.decision == "refused" && refusal.name == step.error, "\(name): refused \(refusal.name): \(refusal)")
                    if case .invalid(let problem) = refusal { #expect(problem.name == step.problem, "\(name): problem") }
                    if case .malformed(let error) = refusal { #expect(error.kind.rawValue == step.wireError, "\(name): wire error") }
                }
            case "trust":
                let change = book.trustNewKey()
                #expect((change != nil) == step.changed, "\(name): trustNewKey gave \(change.map(\.current.label) ?? "nil")")
            case "verify":
                #expect(book.markVerified() == step.verifiedNow, "\(name): markVerified")
            default:
                Issue.record("\(name): unknown action \(step.action)")
            }
            #expect(State(book) == State(step), "\(name): state after the step")
        }
    }

    @Test(arguments: vectors("contactRoster"))
    func contactRoster(_ v: Vector) throws {
        try Self.run(v, restoring: false)
        try Self.run(v, restoring: true)
    }

    @Test func everyKindOfVectorIsThere() {
        let kinds = Dictionary(grouping: Self.file.vectors, by: \.kind).mapValues(\.count)
        #expect(Set(kinds.keys) == ["safetyCode", "contactRoster"])
        let steps = Self.vectors("contactRoster").flatMap { $0.steps ?? [] }
        let outcomes = Set(steps.compactMap { $0.error ?? $0.decision })
        for name in ["accepted", "unchanged", "keyChanged", "wrongKind", "malformed", "invalidRoster", "wrongAccount",
                     "firstRosterSigner", "notNewer", "signerNotPrimary", "badSignature", "epochChanged",
                     "recoveryKeyChanged", "epochNotRaised"] {
            #expect(outcomes.contains(name), "no step ends in \(name)")
        }
        #expect(Set(steps.map(\.trust)) == ["no roster", "unverified", "verified", "key changed"])
        print("contact vectors: \(Self.file.vectors.count) loaded (\(kinds.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")), \(steps.count) steps)")
    }
}
