"""Each projection's progress as the API shows it: position, head, what is parked, and
since when its oldest unapplied event waits (from the commit times the publisher keeps).

`Standings` is the part of that read the operators' progress (observability/progress.py)
makes too: each projection's checkpoint and what it parked."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis

from projections.keyspace.keys import Keys
from projections.readers.views import ProjectionStatusView

# The event log's head position; None when the log did not answer in time (LogHeadWithin).
LogHead = Callable[[], Awaitable[int | None]]
# How long a statuses read waits for the log's head (where Redis has none) before it
# shows 0.
LOG_HEAD_SECONDS = 1.0


class LogHeadWithin:
    """The log's head, read at most once at a time and waited for `seconds`; None past
    that, or when the read fails (/ready and `status` report the log's trouble). Read by
    `projections` queries and updates while Redis has no head (after a flush), it held
    each of them for as long as a paused PostgreSQL or a lock on the log lasted (15 s,
    19.5 s in an outside probe), and each waiting read would hold a worker thread."""

    def __init__(self, read: Callable[[], Awaitable[int]], seconds: float = LOG_HEAD_SECONDS):
        self._read = read
        self._seconds = seconds
        self._reading: asyncio.Future[int] | None = None

    async def __call__(self) -> int | None:
        if self._reading is None or self._reading.done():
            self._reading = asyncio.ensure_future(self._read())
            # Taken here whatever it is: a caller may have stopped waiting for it.
            self._reading.add_done_callback(lambda done: done.cancelled() or done.exception())
        try:
            return await asyncio.wait_for(asyncio.shield(self._reading), self._seconds)
        except Exception:
            return None


@dataclass(frozen=True)
class Standing:
    name: str
    position: int  # the checkpoint
    parked: int  # events set aside (projections/projectors/parking.py)
    parked_streams: int  # streams whose later events wait behind a parked one


class Standings:
    """Queues each projection's checkpoint and parked counts on a caller's pipeline (with
    whatever else it reads in the same round trip), then reads them from its replies."""

    def __init__(self, keys: Keys, names: Sequence[str]) -> None:
        self._keys = keys
        self.names = tuple(names)

    def queue(self, pipe: Any) -> None:
        pipe.mget([self._keys.checkpoint(name) for name in self.names])
        for name in self.names:
            pipe.zcard(self._keys.parked(name))
            pipe.hlen(self._keys.parked_streams(name))

    def take(self, replies: Iterator[Any]) -> list[Standing]:
        """Consumes, in order, the replies to what `queue` queued."""
        checkpoints = next(replies)
        return [
            Standing(name, int(checkpoint or 0), int(next(replies)), int(next(replies)))
            for name, checkpoint in zip(self.names, checkpoints, strict=True)
        ]


async def projection_statuses(
    redis: Redis, keys: Keys, names: Sequence[str], log_head: LogHead | None
) -> list[ProjectionStatusView]:
    """Read in one round trip, the checkpoints before the head, which only grows: no
    position is past its head. (Not in a MULTI: Redis 7.0 out of memory refuses every
    command queued in one, reads too, and the `projections` query answered
    INTERNAL_SERVER_ERROR.) Where Redis holds no head (it was flushed, or restarted
    empty), the log's is read: every projection showed head 0 and lag 0, caught up,
    while its read models were gone and being rebuilt. Otherwise Redis's serves, as
    queries read Redis alone (tests/schema/test_no_sql_on_reads.py): one an older
    snapshot brought back is raised to the log's by the projectors as they catch up
    (ProjectionRunner.catch_up). A projection behind takes a second round trip, for
    when its oldest unapplied event was committed (Keys.commit_times)."""
    standings = Standings(keys, names)
    async with redis.pipeline(transaction=False) as pipe:
        standings.queue(pipe)
        pipe.zscore(keys.head(), "head")
        replies = iter(await pipe.execute())
    read = standings.take(replies)
    head = next(replies)
    if head is None and log_head is not None:
        head = await log_head()
    head = int(head or 0)
    behind = sorted({one.position for one in read if one.position < head})
    waits = dict(zip(behind, await _waiting_since(redis, keys, behind), strict=True))
    return [
        ProjectionStatusView(
            one.name,
            one.position,
            head,
            one.parked,
            one.parked_streams,
            waits.get(one.position),
        )
        for one in read
    ]


async def _waiting_since(
    redis: Redis, keys: Keys, checkpoints: Sequence[int]
) -> list[datetime | None]:
    """For each checkpoint, when the oldest event past it was committed (None: unknown)."""
    if not checkpoints:
        return []
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zrange(keys.commit_times(), 0, 0, withscores=True)
        for checkpoint in checkpoints:
            after = f"({checkpoint}"
            pipe.zrange(keys.commit_times(), after, "+inf", byscore=True, offset=0, num=1)
        lowest, *firsts = await pipe.execute()
    oldest_kept = int(lowest[0][1]) if lowest else None
    return [
        waiting_since(first[0] if first else None, oldest_kept, checkpoint)
        for first, checkpoint in zip(firsts, checkpoints, strict=True)
    ]


def waiting_since(
    first_after: str | None, oldest_kept: int | None, checkpoint: int
) -> datetime | None:
    """When the oldest event past the checkpoint was committed, from the first entry of
    Keys.commit_times past it (`<position>:<milliseconds>`), if the set reaches back to
    the checkpoint's next event; None when it does not (the event is older than the set
    keeps, or Redis lost the set) or holds nothing past it."""
    if first_after is None or oldest_kept is None or oldest_kept > checkpoint + 1:
        return None
    milliseconds = int(first_after.partition(":")[2])
    return datetime.fromtimestamp(milliseconds / 1000, UTC)
