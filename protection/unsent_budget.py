"""The bytes one process holds unsent for a client address, summed over its connections:
what its HTTP connections and WebSockets have written that the socket has not taken yet,
and the answers waiting to be written behind them.

Each answer is bounded (INKWELL_MAX_RESPONSE_BYTES), and so is what one WebSocket may
leave unsent (wiring/websocket_backlog.py), but not their sum: one address may hold 256
HTTP connections and 50 WebSockets. 64 connections that each asked for two 10 MB pages
and 50 sockets that each asked for one, 0.1 s apart and none read, grew the process by
1,621-1,877 MB (1,379-1,650 MB after malloc_trim), held until they went away; the sum
this allows one address is about 5 GB. Here a write that would take the address's
unsent bytes over the budget is not made, and its connection is closed instead
(wiring/http_unsent.py, wiring/websocket_backlog.py say how): the same attack grew it by
158-269 MB at the peak, 71-77 MB after malloc_trim.

A connection's count grows by what it takes to write, and is taken again once it has
written it; in between, the socket only takes bytes from its buffer, so the address's
sum is never below what it holds. When that sum says a write does not fit, every
connection of the address is counted again before the write is refused: a client that
reads is never refused for bytes it has already read. Only then: a message costs two
counts of its own connection (about 2 µs), whatever the address holds.
Connections from a trusted proxy (INKWELL_TRUSTED_PROXIES) are not counted: they carry
many clients, as protection/connection_cap.py leaves them uncapped.
"""

from __future__ import annotations

from collections.abc import Callable

from protection.addresses import counted_as
from protection.trusted_peers import TrustedPeers


class UnsentBudget:
    def __init__(self, limit: int, trusted_proxies: str | None = None) -> None:
        self.limit = limit
        self._trusted = TrustedPeers(trusted_proxies)
        self._accounts: dict[str, set[UnsentAccount]] = {}
        self._counted: dict[str, int] = {}  # the sum of the accounts' last counts

    def account(self, address: str, unsent: Callable[[], int]) -> UnsentAccount | None:
        """The account of a connection from `address` whose unsent bytes `unsent` says;
        None for a trusted proxy's. Closed when the connection ends."""
        if address in self._trusted:
            return None
        address = counted_as(address)
        account = UnsentAccount(self, address, unsent)
        self._accounts.setdefault(address, set()).add(account)
        self._counted.setdefault(address, 0)
        return account

    def held(self, address: str) -> int:
        """What `address`'s connections held unsent when each last wrote."""
        return self._counted.get(counted_as(address), 0)

    def _recount(self, account: UnsentAccount) -> None:
        unsent = account.unsent()
        self._counted[account.address] += unsent - account.counted
        account.counted = unsent

    def _take(self, account: UnsentAccount, size: int) -> bool:
        self._recount(account)
        if not self._within(account.address, size):
            for each in self._accounts[account.address]:
                self._recount(each)
            if not self._within(account.address, size):
                return False
        self._counted[account.address] += size
        account.counted += size
        return True

    def _within(self, address: str, size: int) -> bool:
        """As for one WebSocket: anything goes when nothing is unsent."""
        held = self._counted[address]
        return held == 0 or held + size <= self.limit

    def _close(self, account: UnsentAccount) -> None:
        accounts = self._accounts[account.address]
        accounts.discard(account)
        self._counted[account.address] -= account.counted
        if not accounts:
            del self._accounts[account.address]
            del self._counted[account.address]


class UnsentAccount:
    """One connection's share of its address's budget."""

    def __init__(self, budget: UnsentBudget, address: str, unsent: Callable[[], int]) -> None:
        self.address = address
        self.unsent = unsent
        self.counted = 0  # `unsent()` when last counted
        self._budget: UnsentBudget | None = budget

    def take(self, size: int) -> bool:
        """Whether `size` more bytes keep the address within its budget (the connection's
        own count taken again first); if they do, they are counted, and the caller's
        `unsent()` must count them from now on (a message waiting to be written)."""
        return self._budget is None or self._budget._take(self, size)

    def recount(self) -> None:
        """After the connection wrote what it had taken."""
        if self._budget is not None:
            self._budget._recount(self)

    def close(self) -> None:
        """The connection has ended (or handed its socket to another protocol); once."""
        if self._budget is not None:
            self._budget._close(self)
            self._budget = None
