"""Read-your-writes: waits until every projection's checkpoint, as Redis holds it now, is at
a given position.

One poller task serves every waiter of the process. A waiter registers its position
and sleeps on a future with its own deadline (`asyncio.wait`, which no cancellation
race can stretch), so it answers by then whatever Redis does. The poller reads the
checkpoints with one MGET and releases the waiters that the answer covers, but only
those registered before the MGET was sent: a wait never returns on what Redis held
before it started, nor on positions remembered from notices. After a flush or an
empty restart (which redis-py hides by reconnecting silently) the checkpoints read
are behind, and the wait goes on until the projectors have caught up again.

Checkpoint notices on pub/sub only wake the poller early. It polls every
POLL_SECONDS while anyone waits and not at all when nobody does.

A position a client sends (X-Consistent-With) past the event log's head was never
returned by a write, so no wait would reach it: it is refused as soon as a read of the
checkpoints finds them behind it (NotInLog). The head is read from the log itself, where
every API process commits, by one read at a time for all the waiters such polls found
behind, begun after the poll that found each: whatever position a client was given
before it asked is in it. A position the projections have reached costs no SQL, nor
does one at or below a head read before, nor one a commit has just returned.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from redis.asyncio import Redis
from redis.exceptions import RedisError

from projections.keyspace.keys import Keys
from projections.live.broadcast import Broadcast

log = logging.getLogger(__name__)

# How often the poller reads the checkpoints while someone waits and no notice came.
POLL_SECONDS = 0.05
# After a failed read, how long the poller waits before the next one (Redis is down).
RETRY_SECONDS = 0.2
# At most one warning per this many seconds while Redis stays unreachable.
WARN_EVERY_SECONDS = 10.0


class ConsistencyTimeout(Exception):
    def __init__(self, position: int, timeout: float, *, stopping: bool = False) -> None:
        """`stopping`: cut short by the server's shutdown (stop_waiting), which said "within
        5s" of a wait of 1.7 s (an outside probe)."""
        super().__init__(
            f"the server is stopping, and the read models had not reached position {position}"
            if stopping
            else f"the read models did not reach position {position} within {timeout}s"
        )
        self.position = position


class NotInLog(Exception):
    """The position is past the event log's head: no write has returned it."""

    def __init__(self, position: int, head: int) -> None:
        super().__init__(f"position {position} is past the event log's head, {head}")
        self.position = position
        self.head = head


@dataclass(eq=False)
class _Waiter:
    position: int
    reached: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    head_checked: bool = False  # a read of the log's head was begun for it, or none is due


class ConsistencyWaiter:
    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        broadcast: Broadcast,
        projections: Sequence[str],
        log_head: Callable[[], Awaitable[int]],
        log_outages: tuple[type[Exception], ...] = (),
    ) -> None:
        """`log_head` reads the event log's head position; `log_outages` are the errors
        that mean the log cannot be reached now: the waits then go on unchecked."""
        self._redis = redis
        self._keys = keys
        self._broadcast = broadcast
        self._names = tuple(projections)
        self._checkpoint_keys = [keys.checkpoint(name) for name in projections]
        self._namespace_keys = [keys.namespace(name) for name in projections]
        self._log_head = log_head
        self._log_outages = log_outages
        # The highest head read: a position at or below it was committed, so a wait for
        # it reads no head. Only a head read after the wait began ever refuses one.
        self._committed = 0
        self._last_log_warning = 0.0
        self._head_check: asyncio.Task[None] | None = None
        self._waiters: set[_Waiter] = set()
        self._wake = asyncio.Event()
        self._stopping = False
        self.polls = 0  # MGETs sent, for tests and metrics
        self.head_reads = 0  # reads of the log's head, for tests

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    async def run(self) -> None:
        """The poller, and the notice listener that wakes it; until cancelled."""
        notices = asyncio.create_task(self._follow_notices(), name="consistency notices")
        try:
            await self._poll()
        finally:
            notices.cancel()
            if self._head_check is not None:
                self._head_check.cancel()
            self.stop_waiting()  # nobody will release them now

    def stop_waiting(self) -> None:
        """The server is shutting down: every wait, pending or new, times out at once, so
        that its request answers CONSISTENCY_TIMEOUT instead of holding the shutdown up."""
        self._stopping = True
        for waiter in self._waiters:
            waiter.reached.cancel()

    async def wait_for(self, position: int, timeout: float, *, from_client: bool = False) -> None:
        """Returns once Redis holds every projection's checkpoint at or past `position`;
        raises ConsistencyTimeout when `timeout` seconds pass first. A position
        `from_client`, rather than one a commit has just returned, raises NotInLog if it is
        past the log's head."""
        if self._stopping:
            raise ConsistencyTimeout(position, timeout, stopping=True)
        waiter = _Waiter(position, head_checked=not from_client)
        self._waiters.add(waiter)
        self._wake.set()
        try:
            await asyncio.wait({waiter.reached}, timeout=timeout)
        finally:
            self._waiters.discard(waiter)
            # Nobody will read it now: a refusal set on it later would be logged as lost.
            waiter.reached.cancel()
        if waiter.reached.cancelled():  # the deadline passed, or stop_waiting()
            raise ConsistencyTimeout(position, timeout, stopping=self._stopping)
        waiter.reached.result()  # raises NotInLog

    def spaces(self) -> dict[str, str]:
        """The active spaces as this process knows them now: those a read begun now uses."""
        return dict(self._keys.spaces.active)

    async def still_holds(self, position: int, spaces: Mapping[str, str]) -> bool:
        """Whether Redis, read now, still holds `position` in `spaces` (`spaces()` as
        reads began after a wait for it). A flush between a wait's poll and a query's read
        gave `post: null` for a post that existed, or a comment list without the comment
        just added (an outside probe: 7 times in 32 flushes); read after the query's reads,
        every checkpoint at `position` or past it and every space as it was says none of
        them met a flush or a space a rebuild replaced. Like a poll, it tells the process
        the spaces it finds. Redis unreachable now says nothing of reads it answered
        before: they stand (True)."""
        try:
            found = await self._read_spaces()
        except (RedisError, OSError):
            return True
        return all(
            checkpoint >= position and space == spaces.get(name)
            for name, (space, checkpoint) in found.items()
        )

    async def _poll(self) -> None:
        last_warning = 0.0
        while True:
            if self._waiters:
                await _wait_event(self._wake, POLL_SECONDS)
            else:
                await self._wake.wait()
            self._wake.clear()
            covered = [waiter for waiter in self._waiters if not waiter.reached.done()]
            if not covered:
                continue
            try:
                applied = await self._read()
            except (RedisError, OSError) as error:
                if time.monotonic() - last_warning > WARN_EVERY_SECONDS:
                    last_warning = time.monotonic()
                    log.warning("read-your-writes cannot read the checkpoints (%s)", error)
                await asyncio.sleep(RETRY_SECONDS)
                continue
            for waiter in covered:
                if waiter.position <= applied and not waiter.reached.done():
                    waiter.reached.set_result(None)
            self._check_head([waiter for waiter in covered if not waiter.reached.done()])

    def _check_head(self, behind: list[_Waiter]) -> None:
        """Begins one read of the log's head for the waiters this poll found behind, past
        every head read before, that no read was begun for. While one is under way they
        are left to a later poll, so that the read that checks a waiter always begins
        after a poll that found it behind."""
        if self._head_check is not None:
            return
        unchecked = [
            waiter
            for waiter in behind
            if not waiter.head_checked and waiter.position > self._committed
        ]
        if not unchecked:
            return
        for waiter in unchecked:
            waiter.head_checked = True
        self._head_check = asyncio.create_task(
            self._refuse_past_head(unchecked), name="consistency head check"
        )

    async def _refuse_past_head(self, waiters: list[_Waiter]) -> None:
        """Refuses each waiter whose position is past the log's head, read now. When the
        log cannot be read, their waits go on as they would have."""
        try:
            self.head_reads += 1
            head = await self._log_head()
        except self._log_outages as error:
            if time.monotonic() - self._last_log_warning > WARN_EVERY_SECONDS:
                self._last_log_warning = time.monotonic()
                log.warning("read-your-writes cannot read the log's head (%s)", error)
            return
        finally:
            self._head_check = None
        self._committed = max(self._committed, head)
        for waiter in waiters:
            if waiter.position > head and not waiter.reached.done():
                waiter.reached.set_exception(NotInLog(waiter.position, head))

    async def _read(self) -> int:
        """The lowest checkpoint Redis holds now (0 for one it does not hold)."""
        self.polls += 1
        return min(checkpoint for _, checkpoint in (await self._read_spaces()).values())

    async def _read_spaces(self) -> dict[str, tuple[str | None, int]]:
        """Each projection's active space and checkpoint (0 for one Redis does not hold),
        in one MGET."""
        read = self._keys.spaces.read()
        values = await self._redis.mget([*self._checkpoint_keys, *self._namespace_keys])
        checkpoints, spaces = values[: len(self._names)], values[len(self._names) :]
        found = {
            name: (None if space is None else str(space), int(checkpoint or 0))
            for name, space, checkpoint in zip(self._names, spaces, checkpoints, strict=True)
        }
        # The active spaces as of the same read: a waiter released here reads the space
        # its checkpoint belongs to, even before the swap notice reaches ActiveNamespaces.
        for name, (space, checkpoint) in found.items():
            if space is not None:
                self._keys.spaces.saw(read, name, space, checkpoint)
        return found

    async def _follow_notices(self) -> None:
        """Checkpoint notices say progress was made: poll now rather than at the next tick.
        What they carry is not trusted: pub/sub may lose, delay or replay them."""
        async with self._broadcast.subscribe(self._keys.checkpoints_channel()) as inbox:
            while True:
                await inbox.wait()
                inbox.take(10_000)
                inbox.take_lost()
                if self._waiters:
                    self._wake.set()


async def _wait_event(event: asyncio.Event, timeout: float) -> None:
    """Until the event is set or `timeout` passes (asyncio.wait: see broadcast.Inbox.wait)."""
    if event.is_set():
        return
    ready = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait({ready}, timeout=timeout)
    finally:
        ready.cancel()
