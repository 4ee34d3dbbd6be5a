"""Live read models: the current state of a read model, then its state after every change.

A topic per followed read model (one post, the feed, one post's new comments,
the projections) listens to the change notices projectors publish, reads the
changed read model from Redis ONCE per change, and hands that snapshot to every
subscriber. Each subscriber has a bounded mailbox that keeps only the newest
snapshot per key: a slow client skips intermediate states, never grows memory,
never holds up the others, and always ends on the final state.

No change is lost between a subscriber's first read and its first update: the
topic's channel is subscribed, and Redis has confirmed it, before that first
read; snapshots carry the checkpoint they were read at, so one the first read
already covered is dropped.

Subscribers never read Redis themselves, not even their first state: the topic's
task does it and posts it to their mailbox. A subscription is cancelled whenever
its client goes, and redis-py 8.1 can swallow a cancellation that lands in a
read (FIELD-NOTES): the subscriber would live on as a zombie. Awaiting only a
mailbox, it cannot.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import orjson
from redis.asyncio import Redis

from projections.broadcast import Broadcast, Inbox
from projections.keys import Keys
from projections.statuses import projection_statuses
from projections.views import CommentView, PostView, ProjectionStatusView, readable

log = logging.getLogger(__name__)

T = TypeVar("T")
# A reconnect storm saturates the event loop: subscribers then wait for their channel
# to be confirmed, they should not fail (5 s failed half of a 5,000-subscriber burst).
CONFIRM_SECONDS = 30.0


@dataclass(frozen=True)
class Snapshot(Generic[T]):
    key: str  # what this is a snapshot of: mailboxes keep the newest per key
    position: int  # the checkpoint it was read at: larger is newer
    value: T


class Mailbox(Generic[T]):
    """One subscriber's queue: the newest snapshot per key, at most `size` keys, oldest out."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._waiting: OrderedDict[str, Snapshot[T]] = OrderedDict()
        self._ready = asyncio.Event()

    def put(self, snapshot: Snapshot[T]) -> None:
        self._waiting.pop(snapshot.key, None)
        if len(self._waiting) >= self._size:
            self._waiting.popitem(last=False)
        self._waiting[snapshot.key] = snapshot
        self._ready.set()

    async def get(self) -> Snapshot[T]:
        await self._ready.wait()
        _, snapshot = self._waiting.popitem(last=False)
        if not self._waiting:
            self._ready.clear()
        return snapshot


Reader = Callable[[list[dict[str, Any]], bool], Awaitable[list[Snapshot[Any]]]]


class Topic:
    """One channel followed for all its subscribers, by one task."""

    def __init__(self, channel: str, read: Reader, broadcast: Broadcast) -> None:
        self.channel = channel
        self._read = read
        self._broadcast = broadcast
        self.mailboxes: set[Mailbox[Any]] = set()
        self._inbox: Inbox | None = None
        self._closed = False
        self._subscribed = asyncio.get_running_loop().create_future()
        self.task = asyncio.create_task(self._follow(), name=f"live {channel}")

    async def started(self) -> None:
        """Returns once Redis confirmed the channel: from here on no change is missed."""
        await asyncio.shield(self._subscribed)

    def refresh(self) -> None:
        """Asks the task to read the read model now, for a subscriber that just joined."""
        if self._inbox is not None:
            self._inbox.mark_lost()

    def close(self) -> None:
        """Stops the task without waiting for it: should the cancellation be swallowed in a
        Redis read, the task still sees `_closed` before it waits again."""
        self._closed = True
        self.task.cancel()

    async def _follow(self) -> None:
        try:
            async with self._broadcast.subscribe(self.channel, confirmed=CONFIRM_SECONDS) as inbox:
                self._inbox = inbox
                self._subscribed.set_result(None)
                while not self._closed:
                    await inbox.wait()
                    lost = inbox.take_lost()
                    notices = [orjson.loads(payload) for payload in inbox.take(10_000)]
                    try:
                        snapshots = await self._read(notices, lost)
                    except Exception:
                        log.exception("could not read the change on %s", self.channel)
                        continue
                    for snapshot in snapshots:
                        for mailbox in self.mailboxes:
                            mailbox.put(snapshot)
        except BaseException as error:
            if not self._subscribed.done():
                self._subscribed.set_exception(error)
            raise


class LiveReadModels:
    def __init__(
        self, redis: Redis, keys: Keys, broadcast: Broadcast, projections: tuple[str, ...]
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._broadcast = broadcast
        self._projections = projections
        self._topics: dict[str, Topic] = {}
        self._closing: set[asyncio.Task[None]] = set()  # strong references until they end

    @property
    def subscribers(self) -> int:
        return sum(len(topic.mailboxes) for topic in self._topics.values())

    @asynccontextmanager
    async def post(self, post_id: str) -> AsyncIterator[AsyncIterator[PostView | None]]:
        """The post now (None if it does not exist), then after every change."""

        async def read(_: list[dict[str, Any]], __: bool) -> list[Snapshot[Any]]:
            return await self._post_snapshots([post_id])

        channel = self._keys.post_changed_channel(post_id)
        async with self._joined(channel, read, 1, first_state=True) as mailbox:
            yield _updates(mailbox)

    @asynccontextmanager
    async def feed(self) -> AsyncIterator[AsyncIterator[PostView]]:
        """Every change of a published post, from now on: its publication, each later
        change, and its archiving, so that a live list can drop it. (It was public until
        then; a draft archived unpublished never shows.)"""

        async def read(notices: list[dict[str, Any]], _: bool) -> list[Snapshot[Any]]:
            changed = list(dict.fromkeys(notice["id"] for notice in notices))
            return [
                snapshot
                for snapshot in await self._post_snapshots(changed)
                if snapshot.value is not None and snapshot.value.published_at is not None
            ]

        async with self._joined(self._keys.posts_changed_channel(), read, 256) as mailbox:
            yield _updates(mailbox)

    @asynccontextmanager
    async def comments_added(self, post_id: str) -> AsyncIterator[AsyncIterator[CommentView]]:
        """Each comment added to the post from now on, as the read model holds it."""

        async def read(notices: list[dict[str, Any]], _: bool) -> list[Snapshot[Any]]:
            ids = list(dict.fromkeys(notice["id"] for notice in notices))
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.get(self._keys.checkpoint("posts"))
                for comment_id in ids:
                    pipe.hgetall(self._keys.comment(comment_id))
                checkpoint, *hashes = await pipe.execute()
            return [
                Snapshot(comment_id, int(checkpoint or 0), comment)
                for comment_id, fields in zip(ids, hashes, strict=True)
                # None when deleted again before we read it
                if (comment := readable(CommentView.from_hash, fields)) is not None
            ]

        async with self._joined(self._keys.comment_added_channel(post_id), read, 256) as mailbox:
            yield _updates(mailbox)

    @asynccontextmanager
    async def projections(self) -> AsyncIterator[AsyncIterator[list[ProjectionStatusView]]]:
        """Every projection's progress now, then after every batch any of them applies."""

        async def read(_: list[dict[str, Any]], __: bool) -> list[Snapshot[Any]]:
            return [await self._statuses()]

        async with self._joined(
            self._keys.checkpoints_channel(), read, 1, first_state=True
        ) as mailbox:
            yield _updates(mailbox)

    async def post_now(self, post_id: str) -> PostView | None:
        """The post as it is, read in a task of its own so that a subscription cancelled
        meanwhile is cancelled at this await, never inside redis-py."""
        read = asyncio.ensure_future(self._post_snapshots([post_id]))
        (snapshot,) = await asyncio.shield(read)
        return snapshot.value

    @asynccontextmanager
    async def _joined(
        self, channel: str, read: Reader, size: int, *, first_state: bool = False
    ) -> AsyncIterator[Mailbox[Any]]:
        """A mailbox on the channel's topic; with `first_state`, the topic's next delivery
        to it is a fresh read of the read model, made after the channel was confirmed."""
        topic = self._topics.get(channel)
        if topic is None:
            topic = self._topics[channel] = Topic(channel, read, self._broadcast)
        mailbox: Mailbox[Any] = Mailbox(size)
        topic.mailboxes.add(mailbox)
        try:
            await topic.started()
            if first_state:
                topic.refresh()
            yield mailbox
        finally:
            topic.mailboxes.discard(mailbox)
            if not topic.mailboxes and self._topics.get(channel) is topic:
                del self._topics[channel]
                topic.close()
                self._closing.add(topic.task)
                topic.task.add_done_callback(self._closing.discard)

    async def _post_snapshots(self, post_ids: list[str]) -> list[Snapshot[PostView | None]]:
        """The posts and the posts projection's checkpoint, read in one MULTI: consistent."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.get(self._keys.checkpoint("posts"))
            for post_id in post_ids:
                pipe.hgetall(self._keys.post(post_id))
            checkpoint, *hashes = await pipe.execute()
        return [
            Snapshot(post_id, int(checkpoint or 0), readable(PostView.from_hash, fields))
            for post_id, fields in zip(post_ids, hashes, strict=True)
        ]

    async def _statuses(self) -> Snapshot[list[ProjectionStatusView]]:
        statuses = await projection_statuses(self._redis, self._keys, self._projections)
        revision = int(await self._redis.get(self._keys.parked_revision()) or 0)
        # Positions, the head and the parked revision only grow: their sum orders snapshots.
        progress = (
            sum(status.position for status in statuses)
            + max((status.head_position for status in statuses), default=0)
            + revision
        )
        return Snapshot("projections", progress, statuses)


async def _updates(mailbox: Mailbox[T]) -> AsyncIterator[T]:
    """Each snapshot from the mailbox, in order, without repeats: a topic reads at ever
    later positions, so a snapshot older than the last one given, or the same one again
    (the first state and a change read at one position), is dropped."""
    last: tuple[int, str] = (-1, "")
    while True:
        snapshot = await mailbox.get()
        if snapshot.position < last[0] or (snapshot.position, snapshot.key) == last:
            continue
        last = (snapshot.position, snapshot.key)
        yield snapshot.value
