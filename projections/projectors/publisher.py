"""Publishes committed events on Redis pub/sub: a wake-up call for projectors, never the truth.

A message lost here (Redis down, process killed after the commit) only delays a
projector until it next reads the log; nothing waits on this succeeding.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from domain.ports import RecordedEvent
from projections.keyspace.keys import Keys
from projections.projectors import messages
from projections.redisio import bulk_pipeline

log = logging.getLogger(__name__)

MAX_PENDING = 100_000
PUBLISH_SECONDS = 10.0  # for a batch, sent and answered: a stalled Redis, not load


class EventPublisher:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        self._pending: deque[RecordedEvent] = deque(maxlen=MAX_PENDING)
        self._wake = asyncio.Event()
        # Made in the loop it publishes from, it knows the loop at once: a commit made
        # before `run` first ran (the first command after a start) was dropped, and the
        # lag of its event was unknown (Keys.commit_times) until a later one.
        self._loop: asyncio.AbstractEventLoop | None = asyncio.events._get_running_loop()

    def committed(self, events: list[RecordedEvent]) -> None:
        """Takes a commit's events; safe to call from the writer thread."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._enqueue, events)

    def _enqueue(self, events: list[RecordedEvent]) -> None:
        self._pending.extend(events)
        self._wake.set()

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch = list(self._pending)
            self._pending.clear()
            try:
                await self._publish(batch)
            except (RedisError, OSError) as error:
                log.warning(
                    "could not publish %d events (%s); projectors will catch up", len(batch), error
                )

    async def _publish(self, batch: list[RecordedEvent]) -> None:
        """One write for the batch, its replies read in bulk (bulk_pipeline.py: redis-py's
        pipeline handled each reply on its own, 5% of the server's loop under createPost
        load)."""
        channel = self._keys.events_channel()
        head = batch[-1].position
        commands: list[tuple[object, ...]] = [
            ("PUBLISH", channel, message) for message in messages.encode(batch)
        ]
        # GT keeps the highest position even when publishers of several processes interleave.
        commands.append(("ZADD", self._keys.head(), "GT", head, "head"))
        times, kept = self._keys.commit_times(), self._keys.COMMIT_TIMES_KEPT
        committed = [item for event in batch[-kept:] for item in _commit_time(event)]
        commands.append(("ZADD", times, *committed))
        commands.append(("ZREMRANGEBYRANK", times, 0, -kept - 1))
        # The head moved: projection progress watchers learn of it even when no projector
        # runs (that is when lag matters most).
        commands.append(("PUBLISH", self._keys.checkpoints_channel(), orjson.dumps({"head": head})))
        replies = await bulk_pipeline.execute(
            self._redis.connection_pool, commands, timeout=PUBLISH_SECONDS
        )
        if failed := next((r for r in replies if isinstance(r, Exception)), None):
            raise failed


def _commit_time(event: RecordedEvent) -> tuple[int, str]:
    """Score and member of the event in Keys.commit_times."""
    milliseconds = round(event.recorded_at.timestamp() * 1000)
    return event.position, f"{event.position}:{milliseconds}"
