"""HTTP requests one client address has in progress at once, in one process: past the
cap, its next request waits until one of its own is answered.

Each request in progress holds what its answer is built from: the read models it read,
the result graphql-core builds, the JSON. An address may open 256 connections, and the
query-cost budget lets it spend 100,000 a minute in one burst: 120 requests at once, each
for four posts of 100,000 four-byte characters (cost 808), grew the process by 191 MB,
and by 86 MB with this cap (32). Queued behind its own requests, the burst costs the
address the time it asked for, nobody else.

A request keeps its place until its answer is handed to its connection, and one whose
client leaves while it waits for a place gives up waiting (protection/client_gone.py); what waits
there unsent counts against the address's unsent budget (protection/unsent_budget.py).
A request waiting for the read models (read-your-writes) holds its place, its
address's only. /health never waits. Counted per address as the rate limits count (uvicorn names the
client behind a trusted proxy), and only while rate limits are on.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from protection.addresses import client_address
from protection.client_gone import departure, unless_gone
from protection.request_rate import UNCOUNTED


@dataclass
class _Places:
    slots: asyncio.Semaphore
    requests: int = 0  # in progress and waiting: at 0 the entry goes


class RequestsAtOnce:
    def __init__(self, app: ASGIApp, cap: int | None) -> None:
        """`cap`: requests in progress per address; None, not capped."""
        self.app = app
        self._cap = cap
        self._places: dict[str, _Places] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNCOUNTED or self._cap is None:
            await self.app(scope, receive, send)
            return
        address = client_address(scope)
        places = self._places.get(address)
        if places is None:
            places = self._places[address] = _Places(asyncio.Semaphore(self._cap))
        places.requests += 1
        try:
            if not await _place_taken(places.slots, scope):
                return  # its client left while it waited: the log says 499
            try:
                await self.app(scope, receive, send)
            finally:
                places.slots.release()
        finally:
            places.requests -= 1
            if not places.requests:
                del self._places[address]


async def _place_taken(slots: asyncio.Semaphore, scope: Scope) -> bool:
    """Takes a place, at once when one is free; a request that waits for one gives up
    waiting when its client leaves (protection/client_gone.py)."""
    gone = None if not slots.locked() else departure(scope)
    if gone is None:
        await slots.acquire()
        return True
    return await unless_gone(slots.acquire(), gone)
