"""Which versioned space each projection's read models are read from, kept current in process.

A rebuild swaps a projection's `namespace` key and publishes a notice; every process
follows the notices and also re-reads the keys every second, in case a notice was lost. The
old space is deleted only after NAMESPACE_GRACE_SECONDS, longer than a process can
keep reading it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from projections.keyspace.keys import Keys
from projections.live.broadcast import Broadcast

log = logging.getLogger(__name__)

REFRESH_SECONDS = 1.0
NAMESPACE_GRACE_SECONDS = 5.0


class ActiveNamespaces:
    def __init__(
        self, redis: Redis, keys: Keys, broadcast: Broadcast, projections: Sequence[str]
    ) -> None:
        """Updates `keys.spaces` in place: every reader holding these keys follows."""
        self._redis = redis
        self._keys = keys
        self._broadcast = broadcast
        self._names = tuple(projections)

    async def refresh(self) -> None:
        read = self._keys.spaces.read()
        values = await self._redis.mget(
            [self._keys.namespace(name) for name in self._names]
            + [self._keys.checkpoint(name) for name in self._names]
        )
        spaces, checkpoints = values[: len(self._names)], values[len(self._names) :]
        for name, space, checkpoint in zip(self._names, spaces, checkpoints, strict=True):
            found = None if space is None else str(space)
            self._keys.spaces.saw(read, name, found, int(checkpoint or 0))

    async def run(self) -> None:
        """Re-reads the keys at once on a swap notice or a lost notice, else every second.
        An outage is logged when it begins and when it ends, not at every attempt (each
        pub/sub reconnection wakes this loop: 8 lines in a 4 s outage)."""
        async with self._broadcast.subscribe(self._keys.checkpoints_channel()) as inbox:
            refreshed = -REFRESH_SECONDS
            swapped = True
            failing_since: float | None = None
            while True:
                if swapped or time.monotonic() - refreshed >= REFRESH_SECONDS:
                    try:
                        await self.refresh()
                    except RedisError as error:  # waited out; the next round tries again
                        if failing_since is None:
                            failing_since = time.monotonic()
                            log.warning("could not read the active namespaces: %s", error)
                    else:
                        if failing_since is not None:
                            log.info(
                                "the active namespaces read again after %.1f s",
                                time.monotonic() - failing_since,
                            )
                            failing_since = None
                    refreshed = time.monotonic()
                await inbox.wait(max(0.0, refreshed + REFRESH_SECONDS - time.monotonic()))
                notices = [orjson.loads(payload) for payload in inbox.take(10_000)]
                swapped = inbox.take_lost() or any("namespace" in notice for notice in notices)
