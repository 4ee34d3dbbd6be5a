"""Open HTTP connections per client address, in one process: past the cap, a new one is
refused as it opens.

Every connection holds a file descriptor until its client lets go or a deadline
closes it (10 s for a head that never comes). Two client processes on one machine
held 24,000 connections open, each reopened as the server closed it: the server
reached its limit of open files (20,000 here), and about half of another address's
requests failed to connect. The accept loop, the SQLite files and new Redis
connections all need descriptors. With the cap, the server held 283.

A WebSocket stops counting here once upgraded: `INKWELL_MAX_WS_PER_ADDRESS` caps
those. Connections from a trusted proxy (`INKWELL_TRUSTED_PROXIES`) are not capped:
they carry many clients.
"""

from __future__ import annotations

import ipaddress
from collections import Counter

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ConnectionsPerAddress:
    def __init__(self, limit: int, trusted_proxies: str | None = None) -> None:
        self.limit = limit
        self._open: Counter[str] = Counter()
        self._every_peer_trusted = (trusted_proxies or "").strip() == "*"
        self._trusted = _networks(trusted_proxies or "")

    def open(self, address: str) -> bool:
        """Counts a connection from `address` in, unless it is one over the cap: False,
        and it is not counted."""
        if self._exempt(address):
            return True
        if self._open[address] >= self.limit:
            return False
        self._open[address] += 1
        return True

    def close(self, address: str) -> None:
        """A connection `open` counted has closed, or upgraded to a WebSocket."""
        if self._exempt(address):
            return
        self._open[address] -= 1
        if self._open[address] <= 0:
            del self._open[address]

    def _exempt(self, address: str) -> bool:
        if self._every_peer_trusted:
            return True
        if not self._trusted:
            return False
        peer = ipaddress.ip_address(address)
        return any(peer in network for network in self._trusted)


def _networks(listed: str) -> list[Network]:
    """The addresses and networks of a comma-separated list, as uvicorn reads its
    forwarded_allow_ips; what is neither (a Unix socket's path) cannot be a peer here."""
    found = []
    for entry in (item.strip() for item in listed.split(",")):
        try:
            found.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            continue
    return found
