"""One Redis pub/sub connection per process, fanned out to in-process subscribers.

Each subscriber gets a bounded Inbox. Pub/sub is at-most-once, so an Inbox that
overflowed, or that was open while the connection dropped, is marked `lost`: its
owner must resynchronize from the source of truth instead of trusting the gap.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


class Inbox:
    def __init__(self, maxsize: int) -> None:
        self._messages: deque[str] = deque()
        self._maxsize = maxsize
        self._ready = asyncio.Event()
        self.lost = False

    def put(self, message: str) -> None:
        if len(self._messages) >= self._maxsize:
            self.lost = True
        else:
            self._messages.append(message)
        self._ready.set()

    def mark_lost(self) -> None:
        self.lost = True
        self._ready.set()

    async def wait(self, timeout: float | None = None) -> bool:
        """Waits until there is a message or a loss to handle; False on timeout."""
        if self._ready.is_set():
            return True
        # asyncio.wait, not asyncio.timeout: on Python 3.11 the latter can turn a
        # cancellation that coincides with its deadline into a plain timeout.
        ready = asyncio.ensure_future(self._ready.wait())
        try:
            done, _ = await asyncio.wait({ready}, timeout=timeout)
        finally:
            ready.cancel()
        return bool(done)

    def take(self, limit: int) -> list[str]:
        taken = [self._messages.popleft() for _ in range(min(limit, len(self._messages)))]
        if not self._messages:
            self._ready.clear()
        return taken

    def take_lost(self) -> bool:
        lost, self.lost = self.lost, False
        if not self._messages:
            self._ready.clear()
        return lost


class Broadcast:
    def __init__(self, redis: Redis, always: Iterable[str]) -> None:
        """`redis` must not time out blocking reads (socket_timeout=None): a quiet channel is normal."""
        self._redis = redis
        self._always = tuple(always)
        self._inboxes: dict[str, set[Inbox]] = {}
        self._pubsub: PubSub | None = None
        # Subscribing and connecting take turns, so no channel is ever left out.
        self._changing = asyncio.Lock()
        self.connected = asyncio.Event()

    async def run(self) -> None:
        backoff = 0.05
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                async with self._changing:  # no subscribe() may slip between these two lines
                    await pubsub.subscribe(*self._always, *self._inboxes)
                    self._pubsub = pubsub
                self._mark_all_lost()  # whatever was published before this point was missed
                self.connected.set()
                backoff = 0.05
                async for message in pubsub.listen():
                    if message["type"] == "message":
                        for inbox in self._inboxes.get(message["channel"], ()):
                            inbox.put(message["data"])
            except (RedisError, OSError) as error:
                log.warning("pub/sub connection lost (%s); reconnecting", error)
            finally:
                self.connected.clear()
                self._pubsub = None
                self._mark_all_lost()
                await pubsub.aclose()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 2.0)

    @asynccontextmanager
    async def subscribe(self, channel: str, maxsize: int = 10_000) -> AsyncIterator[Inbox]:
        inbox = Inbox(maxsize)
        async with self._changing:
            subscribers = self._inboxes.setdefault(channel, set())
            subscribers.add(inbox)
            if len(subscribers) == 1 and self._pubsub is not None and channel not in self._always:
                await self._pubsub.subscribe(channel)
        try:
            yield inbox
        finally:
            async with self._changing:
                subscribers.discard(inbox)
                if not subscribers:
                    del self._inboxes[channel]
                    if self._pubsub is not None and channel not in self._always:
                        try:
                            await self._pubsub.unsubscribe(channel)
                        except (RedisError, OSError):
                            pass  # the connection is gone; the reconnect subscribes afresh

    def _mark_all_lost(self) -> None:
        for subscribers in self._inboxes.values():
            for inbox in subscribers:
                inbox.mark_lost()
