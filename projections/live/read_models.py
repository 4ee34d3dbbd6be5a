"""Live read models: the current state of a read model, then its state after every change.

A topic per followed read model (one post, the feed, one post's new comments,
the projections) listens to the change notices projectors publish, reads the
changed read model from Redis ONCE per change, and hands that snapshot to every
subscriber. Each subscriber has a bounded mailbox that keeps only the newest
snapshot per key: a slow client skips intermediate states, never grows memory,
never holds up the others, and always ends on the final state.

Notices only wake a topic; what changed it reads from Redis, except after an operator's
retry of parked events, which records a post's change at the retried event's position,
behind what topics have read: its notices say so, and name what a topic then reads
whole (Tx.late). A subscriber resuming from past that position does not get it again.
The posts projection records, in the same MULTI as each change, the position of every post's last
change and of every comment's addition (Keys.post_changes, comment_additions). A
topic remembers the checkpoint it last read at and asks for what changed after
it: a lost notice, a pub/sub drop (Broadcast marks it) or a Redis restart costs
nothing but that one read, and a quiet second triggers it too. When Redis holds
a checkpoint older than one a topic already delivered (it was flushed, or came
back empty, and the projectors are rebuilding), the topic waits until Redis has
caught up again. If it cannot resume within `give_up_seconds` (a minute by default),
its subscribers' streams end with RESUBSCRIBE: never silently stale. Read models
swapped in behind what it delivered end them at once (_WENT_BACK): the log went back.

No change is lost between a subscriber's first read and its first update: the
topic's channel is subscribed, and Redis has confirmed it, before that first
read.

A feed or comments subscriber that reconnects names the position it has seen up to
(Resume). It joins the topic first, then reads what changed after that position, in
one read at a checkpoint C no older than anything the topic delivered: it is sent
that catch-up, then the topic's snapshots from after C only. The topic delivers
every change after its last read (at most C) to the new mailbox, so the two overlap
and never leave a gap; cutting the live part at C removes the overlap.

Subscribers never read Redis themselves, not even their first state: the topic's
task does it and posts it to their mailbox. A subscription is cancelled whenever
its client goes, and redis-py 8.1 can swallow a cancellation that lands in a
read (docs/field-notes.md): the subscriber would live on as a zombie. Awaiting only a
mailbox, it cannot.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar, cast

import orjson
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from projections.keyspace.keys import Keys
from projections.live.broadcast import Broadcast, Inbox
from projections.readers.statuses import LogHead, projection_statuses
from projections.readers.views import CommentView, PostView, ProjectionStatusView, readable
from projections.redisio.read_only_scripts import ReadOnlyScript

log = logging.getLogger(__name__)

T = TypeVar("T")
# A reconnect storm saturates the event loop: subscribers then wait for their channel
# to be confirmed, they should not fail (5 s failed half of a 5,000-subscriber burst).
CONFIRM_SECONDS = 30.0
# A topic that heard no notice for this long looks for changes anyway (a lost notice).
QUIET_SECONDS = 1.0
# Between attempts while Redis is unreachable or behind what the topic delivered.
RETRY_SECONDS = 0.25
# A read saw changes whose batch is not confirmed yet: its checkpoint moves within
# milliseconds, and a rename's notices came before it, so look again soon; twice as late
# each time they are still unconfirmed, up to QUIET_SECONDS (a projector that died
# between the two steps leaves them so until the rebuild that follows: every topic that
# saw them polling 50 times a second would load Redis while it rebuilds).
UNCONFIRMED_SECONDS = 0.02
# Redis down or not answering in time: a warning without a traceback, as Behind is.
# (redis-py's ConnectionError and TimeoutError are not the builtin ones.)
UNREACHABLE = (RedisConnectionError, RedisTimeoutError)
# How long a resume waits for a change it must send itself to be confirmed
# (ChangesSince.since): a batch is confirmed within milliseconds; one that is not by then
# was left so by a projector that died between its two steps, and resubscribing is the
# honest answer until the rebuild that follows.
CONFIRMATION_SECONDS = 5.0
# More changes than this since the last delivery, or waiting for one subscriber of the
# feed or of a post's comments: resubscribing is cheaper than replaying.
MAX_CHANGES = 10_000
CHANGES_SINCE = (Path(__file__).parent / "lua" / "changes_since.lua").read_text()


class Resubscribe(Exception):
    """A live stream that could not be resumed: the client should subscribe again."""


class Behind(Exception):
    """Redis holds an older checkpoint than a topic already delivered: it lost data."""


@dataclass(frozen=True)
class Snapshot(Generic[T]):
    key: str  # what this is a snapshot of: mailboxes keep the newest per key
    position: int  # the position of the change it shows: larger is newer
    value: T


@dataclass(frozen=True)
class Resume:
    """Where a subscriber that reconnects picks up: after `after`, the log position it has
    seen everything up to. At most `limit` changes are sent before the live stream
    (Resubscribe beyond), and read models behind `after` are waited for `wait_seconds`
    (a lagging replica catches up; a position from another log never does)."""

    after: int
    limit: int = MAX_CHANGES - 1
    wait_seconds: float = 0.0
    # Entered, before the catch-up is read, with the most changes it may hold (`limit`),
    # and raising refuses it; left once it is read, or failed, with `Held` saying how
    # many it held (the query-cost budget, protection/query_cost_rate.py).
    charge: Callable[[int], AbstractAsyncContextManager[Held]] | None = None


@dataclass
class Held:
    """How many changes a catch-up held, once read. One until then: a catch-up that
    ends without sending any (RESUBSCRIBE, its socket gone) keeps one change's cost, as
    the least a query costs."""

    changes: int = 1


class Mailbox(Generic[T]):
    """One subscriber's queue: the newest snapshot per key, at most `size` keys.

    A slow subscriber skips a key's older states, never a key. One more key than `size`
    ends the stream with Resubscribe once what waits is sent: it dropped the oldest key
    before, so a rename of an author with 300 posts reached a feed subscriber as 256
    posts and then silence, with no error to tell the client its list was stale."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._waiting: OrderedDict[str, Snapshot[T]] = OrderedDict()
        self._ready = asyncio.Event()
        self._ended: Exception | None = None

    def put(self, snapshot: Snapshot[T]) -> None:
        if self._ended is not None:
            return
        self._waiting.pop(snapshot.key, None)
        if len(self._waiting) >= self._size:
            self.end(Resubscribe(f"more than {self._size} changes waiting to be sent"))
            return
        self._waiting[snapshot.key] = snapshot
        self._ready.set()

    def end(self, error: Exception) -> None:
        """After what is waiting, get() raises `error`."""
        self._ended = error
        self._ready.set()

    async def get(self) -> Snapshot[T]:
        await self._ready.wait()
        if not self._waiting:
            assert self._ended is not None
            raise self._ended
        _, snapshot = self._waiting.popitem(last=False)
        if not self._waiting and self._ended is None:
            self._ready.clear()
        return snapshot


class Source(Protocol):
    """What a topic reads: its first position, then what changed after the last read."""

    # The checkpoint of the last read: every change up to it was delivered (-1: none yet).
    read_at: int
    # The last read saw changes past its checkpoint, held back until their batch is
    # confirmed: the topic reads again soon.
    unconfirmed: bool

    async def start(self) -> None: ...

    async def changes(self, first_state: bool, late: Sequence[str] = ()) -> list[Snapshot[Any]]:
        """With `first_state`, also the current state even if unchanged; `late` names ids
        whose change was recorded behind the last read (a parked event retried): they are
        read as they are now. Raises Behind."""
        ...


OnResync = Callable[[str], None]


class Topic:
    """One channel followed for all its subscribers, by one task."""

    def __init__(
        self,
        channel: str,
        source: Source,
        broadcast: Broadcast,
        on_resync: OnResync,
        give_up_seconds: float,
    ) -> None:
        self.channel = channel
        self._give_up_seconds = give_up_seconds
        self._source = source
        self._broadcast = broadcast
        self._on_resync = on_resync
        self.mailboxes: set[Mailbox[Any]] = set()
        self.ended = False  # told its subscribers to resubscribe; new ones need a new topic
        self._inbox: Inbox | None = None
        self._first_state = False
        self._closed = False
        self._subscribed = asyncio.get_running_loop().create_future()
        # Its failure is raised to every subscriber waiting in started(); with none left
        # (they went before Redis confirmed the channel), asyncio logged it at ERROR as
        # never retrieved, whenever a client left early.
        self._subscribed.add_done_callback(lambda done: done.cancelled() or done.exception())
        self.task = asyncio.create_task(self._follow(), name=f"live {channel}")

    async def started(self) -> None:
        """Returns once Redis confirmed the channel: from here on no change is missed."""
        await asyncio.shield(self._subscribed)

    def read_at(self) -> int:
        """The checkpoint of the topic's last read: a mailbox added now is given every
        change after it."""
        return self._source.read_at

    def refresh(self) -> None:
        """Asks the task to read the read model now, for a subscriber that just joined."""
        self._first_state = True
        if self._inbox is not None:
            self._inbox.wake()

    def close(self) -> None:
        """Stops the task without waiting for it: should the cancellation be swallowed in a
        Redis read, the task still sees `_closed` before it waits again."""
        self._closed = True
        self.task.cancel()

    async def _follow(self) -> None:
        try:
            async with self._broadcast.subscribe(self.channel, confirmed=CONFIRM_SECONDS) as inbox:
                self._inbox = inbox
                await self._source.start()
                self._subscribed.set_result(None)
                await self._deliver_changes(inbox)
        except BaseException as error:
            if not self._subscribed.done():
                self._subscribed.set_exception(error)
            raise

    async def _deliver_changes(self, inbox: Inbox) -> None:
        trouble_since: float | None = None  # when reads began to fail or to find Redis behind
        gap = False  # notices may have been missed since the last successful read
        unconfirmed_wait = UNCONFIRMED_SECONDS
        while not self._closed:
            if trouble_since is not None:
                wait = RETRY_SECONDS
            elif self._source.unconfirmed:
                wait, unconfirmed_wait = unconfirmed_wait, min(2 * unconfirmed_wait, QUIET_SECONDS)
            else:
                wait, unconfirmed_wait = QUIET_SECONDS, UNCONFIRMED_SECONDS
            await inbox.wait(wait)
            gap = inbox.take_lost() or gap
            # Notices only wake the topic: what changed is read below. Those of a retry
            # name what changed behind the last read.
            late = _late_ids(inbox.take(10_000))
            first, self._first_state = self._first_state, False
            try:
                snapshots = await self._source.changes(first, late)
            except Resubscribe as error:
                self._end(error)
                return
            except Exception as error:
                self._first_state = self._first_state or first
                if trouble_since is None:
                    trouble_since = time.monotonic()
                    log.warning(
                        "live %s cannot read what changed (%s: %s); retrying",
                        self.channel,
                        type(error).__name__,
                        error,
                        exc_info=not isinstance(error, (Behind, OSError, *UNREACHABLE)),
                    )
                elif time.monotonic() - trouble_since > self._give_up_seconds:
                    self._end(Resubscribe(f"the live stream stopped: {error}"))
                    return
                continue
            if trouble_since is not None or gap:
                log.info("live %s resumed", self.channel)
                self._on_resync("resumed")
                trouble_since, gap = None, False
            for snapshot in snapshots:
                for mailbox in self.mailboxes:
                    mailbox.put(snapshot)

    def _end(self, error: Exception) -> None:
        log.warning("live %s ended its subscribers' streams: %s", self.channel, error)
        self._on_resync("ended")
        self.ended = True
        for mailbox in self.mailboxes:
            mailbox.end(error)


KeyOf = Callable[[Keys], str]  # a key in the posts space, whichever space is active
# A hash's view, None when it is not to be shown, from the hash, the position of its
# change, and the position read after.
View = Callable[[dict[str, str], int, int], Any]


# A swap to read models behind what a topic delivered. A rebuild after Redis lost its
# data swaps at the log's head, past anything delivered from that log; only a log that
# went back (restored from an older backup) is rebuilt behind it. Its positions are then
# handed out again to other events: waiting for Redis to pass the old position again
# would skip whatever they carry, so the streams end at once.
_WENT_BACK = (
    "the read models were rebuilt at position {checkpoint}, behind the {read} this stream "
    "had delivered: the event log went back (restored from an older backup?); read the "
    "current state again and subscribe anew"
)


class ChangesSince:
    """Entries of a change set (Keys.post_changes, comment_additions) changed after the
    position the topic last read at, with their hashes, in one consistent read.

    Both live in the posts projection's active space. Each read names the space it
    built its keys for, and the script checks it against the namespace key: after a
    rebuild's swap the topic moves to the new space (its change set has the same
    positions, so nothing is shown twice or missed); with no space at all, Redis lost
    the read models, and the topic waits, as for a checkpoint that went back."""

    def __init__(
        self,
        redis: Redis,
        script: Any,
        keys: Keys,
        change_set: KeyOf,
        hash_prefix: KeyOf,
        view: View,
        only: str = "",
        counted: str = "",
        resumed_view: View | None = None,
        judged_by_after: Callable[[Any], bool] = lambda _: False,
        log_head: LogHead | None = None,
    ) -> None:
        """`only` follows one id (a post): its first state is given even if unchanged.
        `counted` says which changes count against a resume's limit, as `resumed_view`
        (`view` if None) shows them to a subscriber that resumes (lua/changes_since.lua):
        "feed", "exists", or "" for all. `judged_by_after` says of a view `resumed_view`
        gave whether the live part, which judges from the topic's position and not the
        subscriber's, may not show it (an archived post's tombstone): `since` sends
        those itself."""
        self._redis = redis
        self._script = script
        self._keys = keys
        self._checkpoint = keys.checkpoint("posts")
        self._namespace = keys.namespace("posts")
        self._change_set = change_set
        self._hash_prefix = hash_prefix
        self._view = view
        self._resumed_view = view if resumed_view is None else resumed_view
        self._only = only
        self._counted = counted
        self._judged_by_after = judged_by_after
        self._log_head = log_head
        self.read_at = -1  # the checkpoint of the last read: everything up to it was given
        self._read_in: str | None = None  # the space of that read
        self.unconfirmed = False
        # Keys whose change was read past the checkpoint and withheld, by the position
        # everything was given up to when first withheld: shown as to subscribers at that
        # position once confirmed (`changes`).
        self._withheld: dict[str, int] = {}

    async def start(self) -> None:
        """"From now on" (unless following one id): everything up to the checkpoint counts
        as given. A Redis that lost the read models has none while the projector's rebuild
        runs, and read as 0 it made every post the rebuild wrote a change: a feed
        subscribed a second after a FLUSHALL was sent all 800 published posts (an outside
        probe). Then it is the log's head, read from the log (`log_head`): the rebuild
        swaps in at or past it, and what the topic reads before is Behind."""
        if self._only:
            return
        checkpoint = await self._redis.get(self._checkpoint)
        if checkpoint is not None:
            self.read_at = int(checkpoint)
            self._read_in = self._keys.space("posts")
            return
        head = await self._log_head() if self._log_head is not None else None
        self.read_at = head or 0  # the space to come is unknown: `_read_in` stays None

    async def changes(self, first_state: bool, late: Sequence[str] = ()) -> list[Snapshot[Any]]:
        after = -1 if first_state or self.read_at < 0 else self.read_at
        checkpoint, found, space = await self._read_active_space(after, MAX_CHANGES)
        if checkpoint < self.read_at:
            if self._read_in is not None and space != self._read_in:
                raise Resubscribe(_WENT_BACK.format(checkpoint=checkpoint, read=self.read_at))
            raise Behind(f"Redis is at position {checkpoint}, {self.read_at} was delivered")
        self._read_in = space
        if len(found) // 3 >= MAX_CHANGES:
            raise Resubscribe(f"more than {MAX_CHANGES} changes to catch up on")
        self.read_at = checkpoint
        # A batch's changes are written before its checkpoint moves (confirm_batch.lua).
        # Sent now, the next read, after `checkpoint`, sent them again: they are sent
        # once the checkpoint covers them, and every subscriber added meanwhile, given
        # everything after `read_at`, gets them too.
        #
        # A key withheld so is shown as to subscribers who had everything up to the read
        # that first withheld it, not up to `read_at`: a post archived in one batch and
        # changed again (its author renamed) in the next, read between that next batch's
        # two steps, was withheld for the rename, and by the read after, `read_at` was
        # past its archiving, so the feed never told its subscribers (an outside probe:
        # six archivings lost after a Redis write stall, caught up in batches of 500).
        snapshots = self._snapshots(found, after, self._withheld)
        confirmed = [snapshot for snapshot in snapshots if snapshot.position <= checkpoint]
        self.unconfirmed = len(confirmed) < len(snapshots)
        self._withheld = {
            snapshot.key: self._withheld.get(snapshot.key, after)
            for snapshot in snapshots
            if snapshot.position > checkpoint
        }
        read = {snapshot.key for snapshot in snapshots}
        confirmed += [await self._as_now(key) for key in late if key not in read]
        if self._only:
            return confirmed  # None says the post does not exist (or no longer shows)
        return [snapshot for snapshot in confirmed if snapshot.value is not None]

    async def since(self, after: int, limit: int) -> tuple[int, list[Snapshot[Any]]]:
        """The checkpoint, and what changed after `after` up to it, for a subscriber that
        resumes; the read leaves this source's own position alone. More than `limit`
        changes the subscriber may be shown, or more than MAX_CHANGES of any kind to
        look through, is Resubscribe. Only the first count: counting drafts too, a resume
        that fit was refused once someone wrote a draft, and anyone could count them.

        A batch's changes are written before its checkpoint moves (confirm_batch.lua): a
        read between the two sees changes past the checkpoint, which the live part sends
        (everything past the seam): sent here too, they came twice. But the live part
        judges a change from the topic's position: an archived post changed again (its
        author renamed) is not shown to a topic already past its archiving, and a client
        that dropped before the archiving, resuming at that moment, kept the post listed
        for good. Such a change is waited for until its batch is confirmed, and sent here.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CONFIRMATION_SECONDS
        wait = UNCONFIRMED_SECONDS
        while True:
            checkpoint, found, _ = await self._read_active_space(
                after, limit + 1, counted=self._counted, scan=MAX_CHANGES
            )
            if len(found) // 3 > limit:
                raise Resubscribe(
                    f"more than {limit} changes since position {after}, more than a resumed "
                    "subscription is sent: read the current state again and subscribe anew"
                )
            shown = [
                snapshot
                for snapshot in self._snapshots(found, after, view=self._resumed_view)
                if snapshot.value is not None
            ]
            confirmed = [snapshot for snapshot in shown if snapshot.position <= checkpoint]
            unconfirmed = (snapshot.value for snapshot in shown if snapshot.position > checkpoint)
            if not any(self._judged_by_after(value) for value in unconfirmed):
                return checkpoint, confirmed
            if loop.time() >= deadline:
                raise Resubscribe(
                    f"changes after position {after} are written and still not confirmed "
                    f"after {CONFIRMATION_SECONDS:.0f} s (a projector stopped between its two "
                    "steps?): read the current state again and subscribe anew"
                )
            await asyncio.sleep(wait)
            wait = min(2 * wait, QUIET_SECONDS)

    async def _as_now(self, key: str) -> Snapshot[Any]:
        """A late change (a retry's): the id as it is now, shown as to a subscriber who had
        everything before that change, and placed at the last read's position, past what
        the topic delivered, so that no mailbox takes it for an old state."""
        _, (_, position, flat), _ = await self._read_active_space(-1, 1, only=key)
        changed_at = int(position)
        return Snapshot(key, self.read_at, self._view(_pairs(flat), changed_at, changed_at - 1))

    def _snapshots(
        self,
        found: list[Any],
        after: int,
        withheld: dict[str, int] | None = None,
        view: View | None = None,
    ) -> list[Snapshot[Any]]:
        """Each as `view` (the source's own if None) shows it to subscribers who had
        everything up to `after` (or, for a key `withheld`, up to the position given
        there)."""
        since = withheld or {}
        shown = self._view if view is None else view
        return [
            Snapshot(key, int(position), shown(_pairs(flat), int(position), since.get(key, after)))
            for key, position, flat in zip(found[::3], found[1::3], found[2::3], strict=True)
        ]

    async def _read_active_space(
        self,
        after: int,
        limit: int,
        only: str | None = None,
        counted: str = "",
        scan: int | None = None,
    ) -> tuple[int, list[Any], str]:
        """The checkpoint and what changed after `after` (at most `limit` entries; of `only`
        if given, else of the source's id if it has one), read in the active space, and
        that space: a swap seen by the read is followed (every reader of these keys moves
        with it)."""
        one = self._only if only is None else only
        scanned = limit if scan is None else scan
        for _ in range(3):
            # Every name in the space is built anew for each attempt: the hashes' prefix
            # built once read them in the space the first attempt found replaced, empty,
            # and the topic moved past changes it never sent.
            space = self._keys.space("posts")
            read = self._keys.spaces.read()
            checkpoint, active, *found = await self._script(
                keys=[self._checkpoint, self._namespace, self._change_set(self._keys)],
                args=[after, self._hash_prefix(self._keys), limit, one, space, counted, scanned],
            )
            if active is None:
                raise Behind("Redis holds no posts read models: flushed or restarted empty?")
            if active == space:
                return int(checkpoint), found, space
            self._keys.spaces.saw(read, "posts", str(active), int(checkpoint))
        raise Behind("the posts read models moved during every read: rebuilds in a row?")


class Reread:
    """A read model read whole on every change (the projections' progress).

    Its snapshots are numbered in the order its topic's one task reads them, one more
    whenever a read differs from the one before, so that a read equal to the last is a
    repeat. Numbered by the sum of the positions read, every one after a FLUSHALL was
    older than the last given, and dropped: the `projections` subscription said nothing
    for up to 35 s while one projection rebuilt and the others moved on (an outside
    probe)."""

    def __init__(self, key: str, read: Callable[[], Awaitable[Any]]) -> None:
        self._key = key
        self._read = read
        self._last: Any = None
        self._number = 0
        self.read_at = -1  # never resumed from: a whole state is sent anyway
        self.unconfirmed = False

    async def start(self) -> None:
        pass

    async def changes(self, first_state: bool, late: Sequence[str] = ()) -> list[Snapshot[Any]]:
        value = await self._read()
        if self._number == 0 or value != self._last:
            self._number, self._last = self._number + 1, value
        return [Snapshot(self._key, self._number, value)]


def _late_ids(notices: list[str]) -> list[str]:
    """The ids the notices of a retry name (Tx.late), each once."""
    late = (orjson.loads(notice) for notice in notices if '"late"' in notice)
    return list(dict.fromkeys(str(notice["id"]) for notice in late))


def _pairs(flat: list[str]) -> dict[str, str]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _post(fields: dict[str, str], _position: int = -1, _after: int = -1) -> PostView | None:
    return readable(PostView.from_hash, fields)


def _published_post(fields: dict[str, str], _position: int, after: int) -> PostView | None:
    """A post the feed shows, `after` the position the topic last read at: a published
    post; an archived one only once, to tell a subscriber that may hold it in its list
    (it was published at or before `after`) of its archiving (after `after`), so it can
    drop it. A later change of an archived post (its author renamed, a comment deleted)
    sent the whole post to every feed subscriber; a resume from any position before the
    archiving did too, so anyone could list every archived post. The schema sends an
    archived post to everyone but its author without its content (`Post.withheld`)."""
    found = _ever_published(fields)
    if found is None:
        return None
    post, published = found
    if post.status == "ARCHIVED" and not published <= after < (post.archived_position or -1):
        return None
    return post


def _resumed_published_post(fields: dict[str, str], _position: int, after: int) -> PostView | None:
    """A post the feed shows a subscriber that resumes after `after` (every post read
    here changed after it): as live (_published_post), and an archived post it may hold,
    even if its archiving came before `after`.

    A post archived and changed again before a topic read it (a catch-up after a stall)
    is sent at its last change's position, after posts changed since its archiving: a
    client that dropped between the two resumed past the archiving and kept the post
    listed for good (an outside probe: 8-30 posts each time). A subscriber resumes after
    the largest position it was sent less one (docs/clients.md: posts changed by one
    event share a position), so it may hold posts published at `after + 1`: judged by
    `after` alone, those were never dropped (a re-check probe). Such a subscriber may be
    sent again a tombstone it had: dropping a post twice changes nothing."""
    found = _ever_published(fields)
    if found is None:
        return None
    post, published = found
    if post.status == "ARCHIVED" and not published <= after + 1:
        return None
    return post


def _archived(post: PostView) -> bool:
    return post.status == "ARCHIVED"


def _ever_published(fields: dict[str, str]) -> tuple[PostView, int] | None:
    """The post, if it was ever published, and its publication's position (-1 in a read
    model written before publications recorded theirs)."""
    post = _post(fields)
    if post is None or post.published_at is None:
        return None
    return post, -1 if post.published_position is None else post.published_position


def _comment(fields: dict[str, str], added_at: int, _after: int) -> CommentView | None:
    """The comment, with the position that added it (its score in comment_additions) when
    its hash was written before comments recorded their position."""
    comment = readable(CommentView.from_hash, fields)
    if comment is None or comment.position is not None:
        return comment
    return dataclasses.replace(comment, position=added_at)


class LiveReadModels:
    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        broadcast: Broadcast,
        projections: tuple[str, ...],
        on_resync: OnResync = lambda _: None,
        give_up_seconds: float = 60.0,
        log_head: LogHead | None = None,
    ) -> None:
        """`on_resync` counts each topic that resumed after a gap, or ended its streams;
        a topic that cannot resume for `give_up_seconds` ends its streams (RESUBSCRIBE).
        `log_head` reads the event log's head, where Redis lost its own."""
        self._log_head = log_head
        self._give_up_seconds = give_up_seconds
        self._redis = redis
        self._keys = keys
        self._broadcast = broadcast
        self._projections = projections
        self._on_resync = on_resync
        self._changes_since = ReadOnlyScript(redis, CHANGES_SINCE)
        self._topics: dict[str, Topic] = {}
        self._closing: set[asyncio.Task[None]] = set()  # strong references until they end

    @property
    def subscribers(self) -> int:
        return sum(len(topic.mailboxes) for topic in self._topics.values())

    @property
    def topics(self) -> int:
        """Topics whose task has not ended: those followed, and those closed that are still
        unsubscribing (a topic's task outlives its last subscriber by that moment)."""
        return len(self._topics) + len(self._closing)

    @asynccontextmanager
    async def post(self, post_id: str) -> AsyncIterator[AsyncIterator[PostView | None]]:
        """The post now (None if it does not exist), then after every change."""
        source = self._changes(Keys.post_changes, Keys.post_prefix, _post, post_id)
        channel = self._keys.post_changed_channel(post_id)
        async with self._joined(channel, source, 1, first_state=True) as (_, mailbox):
            yield _updates(mailbox)

    @asynccontextmanager
    async def feed(self, resume: Resume | None = None) -> AsyncIterator[AsyncIterator[PostView]]:
        """Every change of a published post, from now on: its publication, each later
        change, and its archiving, so that a live list can drop it (a draft archived
        unpublished never shows). With `resume`, first each post that changed after its
        position, as it is now; an archived one only if it was published by then."""
        source = self._changes(
            Keys.post_changes,
            Keys.post_prefix,
            _published_post,
            counted="feed",
            resumed_view=_resumed_published_post,
            judged_by_after=_archived,
        )
        channel = self._keys.posts_changed_channel()
        async with self._joined(channel, source, MAX_CHANGES) as (topic, mailbox):
            if resume is None:
                yield _updates(mailbox)
            else:
                yield await self._resumed(topic, source, resume, mailbox)

    @asynccontextmanager
    async def comments_added(
        self, post_id: str, resume: Resume | None = None
    ) -> AsyncIterator[AsyncIterator[CommentView]]:
        """Each comment added to the post from now on, as the read model holds it. With
        `resume`, first each comment added after its position and still there."""
        source = self._changes(
            lambda keys: keys.comment_additions(post_id),
            Keys.comment_prefix,
            _comment,
            counted="exists",
        )
        channel = self._keys.comment_added_channel(post_id)
        async with self._joined(channel, source, MAX_CHANGES) as (topic, mailbox):
            if resume is None:
                yield _updates(mailbox)
            else:
                yield await self._resumed(topic, source, resume, mailbox)

    @asynccontextmanager
    async def projections(self) -> AsyncIterator[AsyncIterator[list[ProjectionStatusView]]]:
        """Every projection's progress now, then after every batch any of them applies."""
        async with self._joined(
            self._keys.checkpoints_channel(),
            Reread("projections", self._statuses),
            1,
            first_state=True,
        ) as (_, mailbox):
            yield _updates(mailbox)

    async def post_now(self, post_id: str) -> PostView | None:
        """The post as it is, read in a task of its own so that a subscription cancelled
        meanwhile is cancelled at this await, never inside redis-py."""
        read = asyncio.ensure_future(self._redis.hgetall(self._keys.post(post_id)))
        fields = cast(dict[str, str], await asyncio.shield(read))
        return readable(PostView.from_hash, fields)

    async def _resumed(
        self, topic: Topic, source: ChangesSince, resume: Resume, mailbox: Mailbox[T]
    ) -> AsyncIterator[T]:
        """What changed after `resume.after`, then the live stream from where that read
        ended. Called once the mailbox is on the topic and the topic has started: what
        the topic delivers from now on is everything after its last read, `floor`."""
        floor = topic.read_at()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + resume.wait_seconds
        # The most it may hold is charged before the read, and what it did not hold given
        # back after: charged only once read, a catch-up from an address whose budget was
        # spent was refused after Redis had read it, again and again (an outside probe:
        # 1.29 MB each); charged one change ahead, it still was, for one change a time
        # (2.41 MB of 3,080 changes for a cost of 1: a re-check probe).
        charging = resume.charge(resume.limit) if resume.charge else nullcontext(Held())
        async with charging as held:
            return await self._caught_up(source, resume, mailbox, floor, deadline, held)

    async def _caught_up(
        self,
        source: ChangesSince,
        resume: Resume,
        mailbox: Mailbox[T],
        floor: int,
        deadline: float,
        held: Held,
    ) -> AsyncIterator[T]:
        loop = asyncio.get_running_loop()
        while True:
            read = asyncio.ensure_future(source.since(resume.after, resume.limit))
            # Read in a task of its own, as post_now; its outcome is taken even if nobody
            # waits for it any more (the subscription was cancelled meanwhile).
            read.add_done_callback(lambda done: done.cancelled() or done.exception())
            try:
                checkpoint, caught_up = await asyncio.shield(read)
            except Behind:  # Redis lost its read models: as behind as can be
                checkpoint, caught_up = -1, []
            if checkpoint >= max(resume.after, floor):
                held.changes = len(caught_up)
                return _after_catch_up(caught_up, checkpoint, mailbox)
            if loop.time() >= deadline:
                holds = "no read models" if checkpoint < 0 else f"position {checkpoint}"
                raise Resubscribe(
                    f"cannot resume after position {resume.after}: Redis holds {holds} (a "
                    "position from another event log, or Redis lost data): read the "
                    "current state again and subscribe anew"
                )
            await asyncio.sleep(RETRY_SECONDS)

    def _changes(
        self,
        change_set: KeyOf,
        hash_prefix: KeyOf,
        view: View,
        only: str = "",
        counted: str = "",
        resumed_view: View | None = None,
        judged_by_after: Callable[[Any], bool] = lambda _: False,
    ) -> ChangesSince:
        return ChangesSince(
            self._redis,
            self._changes_since,
            self._keys,
            change_set,
            hash_prefix,
            view,
            only,
            counted,
            resumed_view,
            judged_by_after,
            self._log_head,
        )

    @asynccontextmanager
    async def _joined(
        self, channel: str, source: Source, size: int, *, first_state: bool = False
    ) -> AsyncIterator[tuple[Topic, Mailbox[Any]]]:
        """A mailbox on the channel's topic, and the topic; with `first_state`, the topic's
        next delivery to it is a fresh read of the read model, made after the channel was
        confirmed."""
        topic = self._topics.get(channel)
        if topic is None or topic.ended:
            topic = Topic(channel, source, self._broadcast, self._on_resync, self._give_up_seconds)
            self._topics[channel] = topic
        mailbox: Mailbox[Any] = Mailbox(size)
        topic.mailboxes.add(mailbox)
        try:
            await topic.started()
            if first_state:
                topic.refresh()
            yield topic, mailbox
        finally:
            topic.mailboxes.discard(mailbox)
            if not topic.mailboxes:
                if self._topics.get(channel) is topic:
                    del self._topics[channel]
                topic.close()
                self._closing.add(topic.task)
                topic.task.add_done_callback(self._closing.discard)

    async def _statuses(self) -> list[ProjectionStatusView]:
        return await projection_statuses(self._redis, self._keys, self._projections, self._log_head)


async def _updates(mailbox: Mailbox[T]) -> AsyncIterator[T]:
    async for snapshot in _fresh(mailbox):
        yield snapshot.value


async def _after_catch_up(
    caught_up: list[Snapshot[T]], checkpoint: int, mailbox: Mailbox[T]
) -> AsyncIterator[T]:
    """The catch-up, read at `checkpoint`, then the live snapshots of changes after it:
    one of a change at or before it was in the catch-up already."""
    for snapshot in caught_up:
        yield snapshot.value
    async for snapshot in _fresh(mailbox):
        if snapshot.position > checkpoint:
            yield snapshot.value


async def _fresh(mailbox: Mailbox[T]) -> AsyncIterator[Snapshot[T]]:
    """Each snapshot from the mailbox, in order, without repeats: a topic reads at ever
    later positions, so a snapshot older than the last one given, or the same one again
    (the first state and a change read at one position), is dropped."""
    last: tuple[int, str] = (-1, "")
    while True:
        snapshot = await mailbox.get()
        if snapshot.position < last[0] or (snapshot.position, snapshot.key) == last:
            continue
        last = (snapshot.position, snapshot.key)
        yield snapshot
