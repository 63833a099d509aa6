import CDNSSD
import Foundation
import Testing

/// The avahi dns_sd compat target links and answers. Tests run in the host network namespace,
/// where no avahi-daemon may run (PLATFORM-NOTES.md), so "daemon not reachable" (-65537) is the
/// expected answer there; a real browse is the network lab's job.
@Suite struct DNSSDLinkTests {
    @Test func browseCallsIntoTheLibrary() {
        setenv("AVAHI_COMPAT_NOWARN", "1", 1)
        var ref: DNSServiceRef?
        let status = DNSServiceBrowse(&ref, 0, 0, "_kith._udp", nil, { _, _, _, _, _, _, _, _ in }, nil)
        if status == kDNSServiceErr_NoError, let ref { DNSServiceRefDeallocate(ref) }
        #expect(status == kDNSServiceErr_NoError || status == kDNSServiceErr_Unknown)
    }
}
