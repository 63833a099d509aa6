import Foundation
import KithXMPP
import Testing

/// The fingerprint a user reads, compares and pins: SHA-256 of the DER bytes, shown as OpenSSL does.
struct CertificateFingerprintTests {
    @Test func itIsTheSHA256OfTheBytesShownWithColons() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        let fingerprint = CertificateFingerprint(der: Array("abc".utf8))
        #expect(fingerprint.description == "BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:AD")
    }

    @Test func itIsReadWithOrWithoutColonsInEitherCaseAndOnlyWhole() throws {
        let shown = "BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:AD"
        let expected = CertificateFingerprint(der: Array("abc".utf8))
        #expect(CertificateFingerprint(shown) == expected)
        #expect(CertificateFingerprint("sha256:" + shown.lowercased().replacingOccurrences(of: ":", with: "")) == expected)
        for bad in ["", "BA:78", String(shown.dropLast()), shown + ":00", shown.replacingOccurrences(of: "BA", with: "ZZ")] {
            #expect(CertificateFingerprint(bad) == nil, "\(bad)")
        }
        let coded = try JSONEncoder().encode(expected)
        #expect(try JSONDecoder().decode(CertificateFingerprint.self, from: coded) == expected)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(CertificateFingerprint.self, from: Data("\"nope\"".utf8)) }
    }
}
