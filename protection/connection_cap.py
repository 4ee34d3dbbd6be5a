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

from collections import Counter

from protection.addresses import counted_as
from protection.trusted_peers import TrustedPeers


class ConnectionsPerAddress:
    def __init__(self, limit: int, trusted_proxies: str | None = None) -> None:
        self.limit = limit
        self._open: Counter[str] = Counter()
        self._trusted = TrustedPeers(trusted_proxies)

    def open(self, address: str) -> bool:
        """Counts a connection from `address` in, unless it is one over the cap: False,
        and it is not counted."""
        if address in self._trusted:
            return True
        counted = counted_as(address)
        if self._open[counted] >= self.limit:
            return False
        self._open[counted] += 1
        return True

    def close(self, address: str) -> None:
        """A connection `open` counted has closed, or upgraded to a WebSocket."""
        if address in self._trusted:
            return
        counted = counted_as(address)
        self._open[counted] -= 1
        if self._open[counted] <= 0:
            del self._open[counted]
