"""Read-your-writes: waits until every projection has applied a given position."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import orjson
from redis.asyncio import Redis

from projections.broadcast import Broadcast
from projections.keys import Keys

# Pub/sub may drop a checkpoint notice; the waiter then looks at Redis itself this often.
POLL_SECONDS = 0.1


class ConsistencyTimeout(Exception):
    def __init__(self, position: int, timeout: float) -> None:
        super().__init__(f"the read models did not reach position {position} within {timeout}s")
        self.position = position


class ConsistencyWaiter:
    def __init__(
        self, redis: Redis, keys: Keys, broadcast: Broadcast, projections: Sequence[str]
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._broadcast = broadcast
        self._names = tuple(projections)
        self._applied: dict[str, int] = dict.fromkeys(self._names, 0)
        self._moved = asyncio.Condition()

    async def run(self) -> None:
        """Follows the checkpoint notices the projectors publish with every batch."""
        async with self._broadcast.subscribe(self._keys.checkpoints_channel()) as inbox:
            while True:
                await inbox.wait()
                if inbox.take_lost():
                    # Notices were missed, maybe because Redis restarted empty: forget
                    # what we knew, so the next wait asks Redis itself.
                    self._applied = dict.fromkeys(self._names, 0)
                for payload in inbox.take(10_000):
                    notice = orjson.loads(payload)  # a checkpoint, or the head moving
                    if notice.get("projection") in self._applied:
                        self._applied[notice["projection"]] = notice["position"]
                async with self._moved:
                    self._moved.notify_all()

    async def wait_for(self, position: int, timeout: float) -> None:
        """Returns once every projection's checkpoint is at or past `position`."""
        if self._reached(position):
            return
        try:
            async with asyncio.timeout(timeout):
                while True:
                    await self._refresh()
                    if self._reached(position):
                        return
                    async with self._moved:
                        try:
                            async with asyncio.timeout(POLL_SECONDS):
                                await self._moved.wait_for(lambda: self._reached(position))
                            return
                        except TimeoutError:
                            continue
        except TimeoutError:
            raise ConsistencyTimeout(position, timeout) from None

    def _reached(self, position: int) -> bool:
        return all(applied >= position for applied in self._applied.values())

    async def _refresh(self) -> None:
        values = await self._redis.mget([self._keys.checkpoint(name) for name in self._names])
        for name, value in zip(self._names, values, strict=True):
            self._applied[name] = int(value or 0)
