"""The WebSocket frames that are not whole messages (PING, PONG, the pieces of a
fragmented message) that one process takes from a client address, over all its sockets.

Each socket has a frame budget of its own (wiring/websocket_frames.py), but it started
full on every new socket: 50 sockets from one address, each sending a 127 KB message in
986 pieces and reconnecting as fast as the handshake rate allowed, held another client's
answers at p99 125-221 ms, where the same bytes unfragmented left it at 14 ms (an
outside probe). The message budgets are kept per address for the same reason
(protection/websocket_guard.py, AddressBudgets); the frames' are kept the same way.
Connections from a trusted proxy (INKWELL_TRUSTED_PROXIES) are not counted: they carry
many clients, as protection/connection_cap.py leaves them uncapped.
"""

from __future__ import annotations

from protection.addresses import counted_as
from protection.trusted_peers import TrustedPeers
from protection.websocket_guard import AddressBudgets, MessageBudget


class FrameBudgets:
    def __init__(self, trusted_proxies: str | None = None) -> None:
        self._trusted = TrustedPeers(trusted_proxies)
        self._budgets = AddressBudgets()

    def of(self, address: str) -> MessageBudget | None:
        """The budget `address`'s sockets share; None for a trusted proxy's."""
        return None if address in self._trusted else self._budgets.of(counted_as(address))
