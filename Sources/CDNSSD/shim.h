// avahi's Bonjour compatibility layer. Included by path rather than through pkg-config,
// which would make SwiftPM warn about -D_REENTRANT (PLATFORM-NOTES.md).
#include "/usr/include/avahi-compat-libdns_sd/dns_sd.h"
