"""`wormhole` with its direct-connection hints limited to 127.0.0.1 (for Tools/bench/push/run).

magic-wormhole advertises every local address except 127.0.0.1 when the machine has another
one, so its "direct" connection would go to the machine's own LAN address. The benchmark keeps
all traffic on loopback: this runs the normal CLI with the address list replaced.
Usage: VENV/bin/python wormhole_loopback.py [wormhole arguments...]
"""
import sys

from wormhole import ipaddrs
from wormhole.cli.cli import wormhole

ipaddrs.find_addresses = lambda: ["127.0.0.1"]

if __name__ == "__main__":
    sys.argv[0] = "wormhole"
    sys.exit(wormhole())
