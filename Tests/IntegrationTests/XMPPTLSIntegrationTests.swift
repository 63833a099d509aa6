import Foundation
import KithAgent
import KithXMPP
import Testing

/// STARTTLS against a real Prosody that requires it, with a self-signed test certificate: the
/// system does not trust it, so an unpinned login is refused before the password leaves; the
/// fingerprint the server presents can be read and pinned, and a pinned login signs in over TLS;
/// a pin for another certificate is refused and names the one presented.
@Suite(.serialized, .enabled(if: ProsodyHarness.isInstalled, "Prosody is not installed (Tools/bootstrap installs it)"))
struct XMPPTLSIntegrationTests {
    func login(_ prosody: ProsodyHarness, certificate: CertificateFingerprint?) async throws -> XMPPConnection.Login {
        try await XMPPConnection.connect(host: "127.0.0.1", port: prosody.port, account: try JID(parsing: "alice@\(prosody.domain)"),
                                         password: "correct horse", rosterVersion: "", certificate: certificate)
    }

    @Test func anUntrustedCertificateIsRefusedItsFingerprintShownAndAPinSignsIn() async throws {
        let prosody = try await ProsodyHarness.start(tls: true)
        defer { prosody.stop() }
        let expected = try #require(prosody.certificate)

        await #expect {
            _ = try await login(prosody, certificate: nil)
        } throws: { error in
            guard case XMPPError.tlsFailed = error else { return false }
            return true
        }
        #expect(!prosody.log.contains("Authenticated as alice"), "the password must not be sent before TLS is trusted")

        let presented = try await XMPPConnection.presentedCertificate(host: "127.0.0.1", port: prosody.port, domain: prosody.domain)
        #expect(presented == expected)

        let pinned = try await login(prosody, certificate: presented)
        #expect(pinned.boundJID.bare == (try JID(parsing: "alice@\(prosody.domain)")))
        await pinned.connection.close()
    }

    @Test func aPinForAnotherCertificateIsRefused() async throws {
        let prosody = try await ProsodyHarness.start(tls: true)
        defer { prosody.stop() }
        let other = try #require(CertificateFingerprint(String(repeating: "ab", count: 32)))
        await #expect {
            _ = try await login(prosody, certificate: other)
        } throws: { error in
            (error as? XMPPError) == .certificateMismatch(presented: prosody.certificate!)
        }
    }
}
