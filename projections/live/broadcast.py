"""One Redis pub/sub connection per process, fanned out to in-process subscribers.

Each subscriber gets a bounded Inbox. Pub/sub is at-most-once, so an Inbox that
overflowed, or that was open while the connection dropped, is marked `lost`: its
owner must resynchronize from the source of truth instead of trusting the gap.

The connection must not retry on its own (give its client `retries=0`): redis-py
would reconnect and resubscribe silently, and the messages of the gap would be
gone without anyone knowing. Here every drop is logged, counted, and marks every
inbox lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

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

    def wake(self) -> None:
        """Ends the owner's wait() without a message or a loss: it has work of its own."""
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
    def __init__(
        self,
        redis: Redis,
        always: Iterable[str],
        on_disconnect: Callable[[BaseException], None] = lambda _: None,
    ) -> None:
        """`redis` must not time out blocking reads (socket_timeout=None): channels go quiet;
        nor retry (see the module's docstring). `on_disconnect` counts each lost connection."""
        self._redis = redis
        self._on_disconnect = on_disconnect
        self._always = tuple(always)
        self._inboxes: dict[str, set[Inbox]] = {}
        self._pubsub: PubSub | None = None
        # Subscribing and connecting take turns, so no channel is ever left out.
        self._changing = asyncio.Lock()
        # Per channel: SUBSCRIBEs sent and not yet confirmed, and whether Redis confirmed it.
        self._unconfirmed: dict[str, int] = {}
        self._confirmed: dict[str, asyncio.Event] = {}
        self.connected = asyncio.Event()

    async def run(self) -> None:
        backoff = 0.05
        lost_at: float | None = None
        while True:
            pubsub = self._redis.pubsub()
            try:
                async with self._changing:  # no subscribe() may slip between these two lines
                    # Each once: redis-py subscribes a channel listed twice once, and Redis
                    # confirms it once; counted twice, it stayed unconfirmed for good.
                    channels = list(dict.fromkeys([*self._always, *self._inboxes]))
                    self._sent_subscribe(channels)
                    await pubsub.subscribe(*channels)
                    self._pubsub = pubsub
                self._mark_all_lost()  # whatever was published before this point was missed
                self.connected.set()
                if lost_at is not None:
                    log.warning("pub/sub connection back after %.1fs", time.monotonic() - lost_at)
                    lost_at = None
                backoff = 0.05
                async for message in pubsub.listen():
                    self._dispatch(message)
            except (RedisError, OSError) as error:
                was_connected = self.connected.is_set()
                if was_connected or backoff == 0.05:  # one line per outage, not per attempt
                    log.warning(
                        "pub/sub connection %s (%s: %s); live subscribers resynchronize "
                        "once it is back",
                        "lost" if was_connected else "refused",
                        type(error).__name__,
                        error,
                    )
                if was_connected:
                    self._on_disconnect(error)
                    lost_at = time.monotonic()
            finally:
                self.connected.clear()
                self._pubsub = None
                self._unconfirmed.clear()
                for confirmed in self._confirmed.values():
                    confirmed.clear()
                self._mark_all_lost()
                await pubsub.aclose()  # type: ignore[no-untyped-call]
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 2.0)

    @asynccontextmanager
    async def subscribe(
        self, channel: str, maxsize: int = 10_000, *, confirmed: float | None = None
    ) -> AsyncIterator[Inbox]:
        """An inbox for the channel. With `confirmed=<seconds>` it is handed out only once
        Redis has confirmed the subscription, so that whatever is published afterwards
        reaches it: a caller can then read the current state and miss no change after it."""
        inbox = Inbox(maxsize)
        async with self._changing:
            subscribers = self._inboxes.setdefault(channel, set())
            subscribers.add(inbox)
            if len(subscribers) == 1 and self._pubsub is not None and channel not in self._always:
                self._sent_subscribe([channel])
                await self._pubsub.subscribe(channel)
        try:
            if confirmed is not None:
                async with asyncio.timeout(confirmed):
                    await self._confirmed.setdefault(channel, asyncio.Event()).wait()
            yield inbox
        finally:
            async with self._changing:
                subscribers.discard(inbox)
                if not subscribers:
                    del self._inboxes[channel]
                    if self._pubsub is not None and channel not in self._always:
                        self._confirmed.pop(channel, asyncio.Event()).clear()
                        # If the connection is gone, the reconnect subscribes afresh anyway.
                        with contextlib.suppress(RedisError, OSError):
                            await self._pubsub.unsubscribe(channel)

    @property
    def channels(self) -> int:
        """Channels this process is subscribed to (for tests and metrics)."""
        return len(set(self._inboxes) | set(self._always))

    def _sent_subscribe(self, channels: list[str]) -> None:
        for channel in channels:
            self._unconfirmed[channel] = self._unconfirmed.get(channel, 0) + 1
            self._confirmed.setdefault(channel, asyncio.Event()).clear()

    def _dispatch(self, message: dict[str, Any]) -> None:
        channel = message["channel"]
        if message["type"] == "message":
            for inbox in self._inboxes.get(channel, ()):
                inbox.put(message["data"])
        elif message["type"] == "subscribe":
            # Replies come in order: when none is outstanding, the latest SUBSCRIBE is in force.
            outstanding = self._unconfirmed.pop(channel, 1) - 1
            if outstanding > 0:
                self._unconfirmed[channel] = outstanding
            elif channel in self._inboxes or channel in self._always:
                self._confirmed.setdefault(channel, asyncio.Event()).set()

    def _mark_all_lost(self) -> None:
        for subscribers in self._inboxes.values():
            for inbox in subscribers:
                inbox.mark_lost()
