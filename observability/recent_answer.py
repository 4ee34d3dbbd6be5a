"""An operator endpoint's answer, computed at most once a second and shared meanwhile.

/ready reads the log's head, every projection's progress and the stores' health, and
/metrics reads the same progress and renders every instrument: 2.3-2.8 ms of CPU an
answer. Each address's request rate bounds what one client makes the process compute,
but not what many do together, each within its rate. A probe polls every few seconds
and a scrape every 15 s, so an answer up to a second old tells them nothing less: with
it, a flood from any number of addresses costs one computation a second.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")

FRESH_SECONDS = 1.0


class RecentAnswer(Generic[T]):
    """The latest answer while it is under `seconds` old (counted from when its computation
    began); else a new one, which the requests that arrive while it is being computed
    await together rather than each computing their own."""

    def __init__(
        self, seconds: float = FRESH_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._seconds = seconds
        self._clock = clock
        self._latest: tuple[float, T] | None = None
        self._pending: asyncio.Future[T] | None = None

    async def get(self, compute: Callable[[], Awaitable[T]]) -> T:
        now = self._clock()
        if self._latest is not None and now - self._latest[0] < self._seconds:
            return self._latest[1]
        if self._pending is None:
            self._pending = asyncio.ensure_future(self._keep(now, compute))
        # Shielded: a client that leaves must not cancel the answer others are waiting for.
        return await asyncio.shield(self._pending)

    async def _keep(self, began: float, compute: Callable[[], Awaitable[T]]) -> T:
        try:
            answer = await compute()
            self._latest = (began, answer)
            return answer
        finally:
            self._pending = None
