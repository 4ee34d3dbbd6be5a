"""Zero-downtime rebuild: fill new versioned spaces from the log, then swap them in at once.

Queries keep reading the active spaces while the new ones fill. The log is read
once and each decoded batch feeds every projection being rebuilt, in one large
pipeline per batch, not a transaction: a new space is private to its rebuild, and
a MULTI of that size would stall every other client. What a transaction would
guard is guarded by the batch's last command, a compare-and-set of the spaces'
checkpoints: a Redis flushed or restarted mid-batch fails it, and the build starts
over. The swap is one MULTI under WATCH: it happens only once the new spaces are at
least as far as the live checkpoints, so no reader ever sees the read models go back.

Rebuilding the projection whose space Redis lost (`ProjectionRunner`) takes this
same path, with the one projection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError, WatchError

from domain.ports import EventLog, RecordedEvent
from projections.keyspace.keys import Keys
from projections.keyspace.spaces import drop_space
from projections.live.namespaces import NAMESPACE_GRACE_SECONDS
from projections.projectors.checkpoint_events import mark
from projections.projectors.commands import Commands
from projections.projectors.failures import RebuildRunning, SpaceLost, failed_replies
from projections.projectors.lease import Lease
from projections.projectors.parking import Parking
from projections.projectors.projection import Projection
from projections.projectors.queueing import EventQueue
from projections.projectors.scripts import Scripts
from projections.projectors.tx import Authors, Recomputes, Tx
from projections.redisio import bulk_pipeline
from projections.redisio.cancellation import complete

log = logging.getLogger(__name__)

BUILD_BATCH = 2000
# Recomputations are kept across this many events' batches (tx.py, Recomputes), and a
# post's top comments recomputed about once for all of them, not once per comment. The
# bound keeps what is held, and what waits to be cut (the recent events), small.
RECOMPUTE_EVERY = 50_000
BATCH_SECONDS = 60.0  # for all of a batch's replies: some 34,000 take ~0.3 s
LOCK_SECONDS = 30.0

# Moves every checkpoint from ARGV[1] to ARGV[2]; 0, and nothing moved, if any differs.
_ADVANCE = """
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) ~= ARGV[1] then return 0 end
end
for _, key in ipairs(KEYS) do redis.call('SET', key, ARGV[2]) end
return 1
"""

# The spaces of a projection that nothing needs: registered (last needed) before
# ARGV[1], not active, and none while a rebuild other than ARGV[2]'s holds the lock.
# KEYS[1] the rebuild lock, KEYS[2] the active space's pointer, KEYS[3] the registry.
_ABANDONED = """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[2] then return {} end
local active = redis.call('GET', KEYS[2])
local found = {}
for _, space in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', ARGV[1])) do
  if space ~= active then found[#found + 1] = space end
end
return found
"""

# Deletes a space's build checkpoint unless the space is the active one (KEYS[1] names
# ARGV[1]); 1 when deleted, and the space is then the caller's to drop.
_CLAIM_UNLESS_ACTIVE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return 0 end
redis.call('DEL', KEYS[2])
return 1
"""

Progress = Callable[[int, int], None]  # (position reached, head of the log)


async def sweep_abandoned(redis: Redis, keys: Keys, projection: str, holder: str = "") -> None:
    """Deletes the projection's spaces that no process needs any more: not active, not in
    a replaced space's grace period, and not being built by a rebuild other than
    `holder` (the rebuild lock's owner, when a rebuild sweeps). Only a rebuild or a
    process killed before its cleanup leaves such spaces: a process killed within a
    swap's grace period leaves the spaces it replaced, a rebuild killed or cancelled
    mid-build its own. A projector sweeps now and then (ProjectionRunner), a rebuild
    before it builds. The spaces are listed in one script call (_ABANDONED), so that no
    swap or rebuild comes between the checks; no lock is taken, so no rebuild is ever
    refused because of a sweep."""
    registry = keys.space_registry(projection)
    unused_since = time.time() - NAMESPACE_GRACE_SECONDS
    listed = [keys.rebuilding(projection), keys.namespace(projection), registry]
    for found in await redis.register_script(_ABANDONED)(listed, [unused_since, holder]):
        space = str(found)
        log.warning("deleting %s, left by a rebuild or process that did not finish", space)
        await drop_space(redis, space)
        await redis.zrem(registry, space)


@dataclass(frozen=True)
class _Batch:
    packed: bulk_pipeline.Packed  # packed ahead, while Redis runs the batch before
    owners: list[RecordedEvent | None]  # per command, the event it is for
    applied: dict[str, int]  # per projection, the events that applied
    position: int  # the checkpoint it moves the spaces to


@dataclass(frozen=True)
class Swapped:
    position: int
    old_spaces: list[str]  # to delete once no reader can still be using them


class Rebuild:
    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        scripts: Scripts,
        event_log: EventLog,
        projections: Sequence[Projection],
        on_progress: Progress | None = None,
        batch: int = BUILD_BATCH,
        by: str = "",
    ) -> None:
        """`by`: the role its locks name (holders.py): PROJECTOR or REBUILD_COMMAND."""
        self._redis = redis
        self._by = by
        self._writes = bulk_pipeline.private_pool(redis)  # for the build's batches
        self._keys = keys
        self._scripts = scripts
        self._log = event_log
        self._projections = list(projections)
        self._on_progress = on_progress or (lambda position, head: None)
        self._batch = batch
        self._applied: dict[str, int] = {}  # events applied to each space being built
        self._queues: dict[str, EventQueue] = {}  # each projection's, for one build
        self._recomputes = Recomputes()  # due before the build's spaces are swapped in
        self._held_since = 0  # the position where the recomputations held began
        self._authors: Authors = {}  # as the spaces being built hold them
        self._advance = redis.register_script(_ADVANCE)
        self._locks: list[Lease] = []  # taken by run(), in the name of the log it reads
        self._listed: dict[str, str] = {}  # the spaces run() registered; a scratch build's are not

    async def run(self) -> Swapped:
        """Builds and swaps; raises RebuildRunning if another rebuild of one of the
        projections holds its lock. A loss of Redis data mid-build starts it over."""
        await self._lock()
        renewing = asyncio.create_task(self._renew_locks())
        try:
            await self._sweep_abandoned()
            while True:
                spaces = self._new_spaces()
                await self._register(spaces)
                try:
                    return await self._build_and_swap(spaces)
                except SpaceLost:
                    log.error(
                        "the rebuild's spaces vanished (Redis flushed or restarted "
                        "empty?): starting the rebuild over"
                    )
                    # The batch after the flush wrote into them, and the flush took their
                    # registry entries: left here, nothing would ever delete them.
                    await complete(self._drop(spaces.values()))
                except BaseException:
                    await complete(self._drop_unless_swapped_in(spaces))
                    raise
        finally:
            await complete(self._unlock(renewing))

    async def _register(self, spaces: dict[str, str]) -> None:
        """Lists the spaces for the sweep before anything is written to them; every batch
        lists them again (_list_again)."""
        self._listed = spaces
        now = time.time()
        async with self._redis.pipeline(transaction=False) as pipe:
            for name, space in spaces.items():
                pipe.zadd(self._keys.space_registry(name), {space: now})
            await pipe.execute()

    async def _sweep_abandoned(self) -> None:
        """Deletes what earlier rebuilds of these projections left (sweep_abandoned),
        under this rebuild's own locks."""
        for projection, lock in zip(self._projections, self._locks, strict=True):
            await sweep_abandoned(self._redis, self._keys, projection.name, lock.owner)

    async def _unlock(self, renewing: asyncio.Task[None]) -> None:
        renewing.cancel()
        await self._close_writes()
        with contextlib.suppress(asyncio.CancelledError):
            await renewing
        await self._release_locks()

    async def scratch(self) -> tuple[dict[str, str], int]:
        """Builds new spaces up to the log's head without making them active (what
        `verify` compares with the active ones); the caller drops them."""
        spaces = self._new_spaces()
        checkpoints = [self._keys.space_checkpoint(space) for space in spaces.values()]
        try:
            await self._redis.mset(dict.fromkeys(checkpoints, 0))
            # What a scratch build parks stays in its own space, out of the live lists.
            self._queues = {
                p.name: EventQueue(
                    p, Parking(Keys(spaces[p.name]), p.name), await self._log.skipped(p.name)
                )
                for p in self._projections
            }
            return spaces, await self._build(spaces, checkpoints, 0)
        except BaseException:
            await complete(self._drop(spaces.values()))
            raise
        finally:
            await complete(self._close_writes())

    async def _close_writes(self) -> None:
        await self._writes.disconnect()

    async def delete_old(self, swapped: Swapped, grace: float = NAMESPACE_GRACE_SECONDS) -> None:
        """Deletes the spaces the swap replaced, after every process has moved off them.
        (Should this process die first, the projector's next sweep deletes them.)"""
        await asyncio.sleep(grace)
        await self._drop(swapped.old_spaces)

    async def _lock(self) -> None:
        """Takes every projection's lock, or none: on a refusal, and on a cancellation,
        those it may hold are let go (a release is of this rebuild's own only). A
        projector's rebuild cancelled 29 ms after it began, its lock taken in Redis but
        the reply not yet read, left the lock for its 30 s term: two projectors waited on
        it, each "waiting for the rebuild under way", and read models Redis had lost
        stayed missing for up to 35 s where one rebuild took 4 (an outside probe)."""
        identity = await self._log.identity()
        self._locks = [
            Lease(self._redis, self._keys.rebuilding(p.name), LOCK_SECONDS, identity, self._by)
            for p in self._projections
        ]
        try:
            for projection, lock in zip(self._projections, self._locks, strict=True):
                if not await lock.acquire():
                    holder = await self._redis.get(self._keys.rebuilding(projection.name))
                    raise RebuildRunning(projection.name, str(holder) if holder else None)
        except BaseException:
            await complete(self._release_locks())
            raise

    async def _release_locks(self) -> None:
        for lock in self._locks:
            await lock.release()

    async def _renew_locks(self) -> None:
        while True:
            await asyncio.sleep(LOCK_SECONDS / 3)
            for lock in self._locks:
                try:
                    await lock.renew()
                except RedisError as error:  # a busy Redis: the lease outlives a missed renewal
                    log.warning("could not renew a rebuild lease: %s", error)

    def _new_spaces(self) -> dict[str, str]:
        version = f"{datetime.now(UTC):%Y%m%d%H%M%S}-{secrets.token_hex(3)}"
        return {p.name: self._keys.new_space(p.name, version) for p in self._projections}

    async def _build_and_swap(self, spaces: dict[str, str]) -> Swapped:
        checkpoints = [self._keys.space_checkpoint(space) for space in spaces.values()]
        await self._redis.mset(dict.fromkeys(checkpoints, 0))
        self._applied = dict.fromkeys(spaces, 0)
        self._queues = await self._new_queues(self._keys)
        position = 0
        while True:
            position = await self._build(spaces, checkpoints, position)
            swapped = await self._swap(spaces, checkpoints, position)
            if swapped is not None:
                return swapped  # else the live runners moved on: build up to them first

    async def _new_queues(self, parking_keys: Keys) -> dict[str, EventQueue]:
        return {
            p.name: EventQueue(p, Parking(parking_keys, p.name), await self._log.skipped(p.name))
            for p in self._projections
        }

    async def _build(self, spaces: dict[str, str], checkpoints: list[str], position: int) -> int:
        """Applies the log after `position` up to its head; returns the position reached.
        While Redis applies a batch, the next is read from the log and queued; it is sent
        once this one's replies are checked, so a failed batch has none after it."""
        head = await self._log.head_position()
        keys = {name: self._keys.with_space(name, space) for name, space in spaces.items()}
        self._recomputes, self._held_since = Recomputes(), position
        if position == 0:  # a build from the log's start knows every author (Tx.authors)
            self._authors = {}
        events = await self._log.read_all(after=position, limit=self._batch)
        batch = self._queue(keys, checkpoints, position, events) if events else None
        while batch is not None:
            following = asyncio.create_task(
                self._log.read_all(after=batch.position, limit=self._batch)
            )
            try:
                async with bulk_pipeline.sent(
                    self._writes, batch.packed, BATCH_SECONDS
                ) as in_flight:
                    events = await following
                    upcoming = (
                        self._queue(keys, checkpoints, batch.position, events)
                        if events or self._recomputes  # the last batch: only those due
                        else None
                    )
                    self._check(",".join(keys), batch, await in_flight.replies())
            except BaseException:
                following.cancel()
                raise
            position = batch.position
            self._on_progress(position, max(head, position))
            batch = upcoming
        return position

    def _queue(
        self,
        keys: dict[str, Keys],
        checkpoints: list[str],
        position: int,
        events: list[RecordedEvent],
    ) -> _Batch:
        """The batch that applies `events` to every projection and moves the spaces'
        checkpoints from `position` to the last event's. Without events, it is the build's
        last: the recomputations still due, the checkpoints checked where they are."""
        commands, last = Commands(), events[-1].position if events else position
        owners: list[RecordedEvent | None] = []
        applied = {}
        for projection in self._projections:
            name = projection.name
            tx = Tx(
                commands,
                keys[name],
                self._scripts,
                last,
                recomputes=self._recomputes,
                authors=self._authors,
                notices=False,
            )
            applied[name] = self._queues[name].queue_all(events, tx, owners)
        if not events or last - self._held_since >= RECOMPUTE_EVERY:
            self._recomputes.queue(commands)  # owned by no one event, as the checkpoints
            self._held_since = last
        self._list_again(commands)
        commands.scripts.add(self._advance)
        commands.evalsha(self._advance.sha, len(checkpoints), *checkpoints, position, last)
        return _Batch(bulk_pipeline.pack(commands.stack, commands.scripts), owners, applied, last)

    def _list_again(self, commands: Commands) -> None:
        """Lists the spaces in the registry again, after the batch's writes: a Redis
        flushed before them took the entry, and those writes would otherwise be listed
        nowhere should the process die before it drops them. It also keeps the entries'
        time recent, so that no sweep takes a build under way for an abandoned one when
        its lock was lost."""
        now = time.time()
        for name, space in self._listed.items():
            commands.zadd(self._keys.space_registry(name), {space: now})

    def _check(self, names: str, batch: _Batch, replies: list[object]) -> None:
        if failure := failed_replies(names, replies, batch.owners):
            raise failure
        if replies[-1] != 1:
            raise SpaceLost()
        for name, count in batch.applied.items():
            self._applied[name] = self._applied.get(name, 0) + count

    async def _swap(
        self, spaces: dict[str, str], checkpoints: list[str], position: int
    ) -> Swapped | None:
        """Makes the new spaces active, if they are at least as far as the live ones and
        as any batch a live runner has applied but not yet confirmed, or if those are past
        the log's head: the log was replaced or restored from an older backup, and the
        read models go back with it (the runner's catch_up says so). Waiting to reach them
        looped for good."""
        names = list(spaces)
        live = [self._keys.checkpoint(name) for name in names]
        markers = [self._keys.unconfirmed(name) for name in names]
        pointers = [self._keys.namespace(name) for name in names]
        watched = [*live, *markers, *pointers, *checkpoints]
        async with self._redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(*watched)
                values = [await pipe.get(key) for key in watched]
                n = len(names)
                reached, pending, old, built = (values[i * n : (i + 1) * n] for i in range(4))
                if any(value != str(position) for value in built):
                    raise SpaceLost()
                ahead = max(int(value or 0) for value in [*reached, *pending])
                going_back = ahead > position and await self._log.head_position() < ahead
                if ahead > position and not going_back:
                    return None
                at_position = await self._log.at([position]) if position else []
                pipe.multi()  # type: ignore[no-untyped-call]
                now = time.time()
                for name, space, replaced in zip(names, spaces.values(), old, strict=True):
                    if replaced is not None:  # needed until the grace period ends
                        pipe.zadd(self._keys.space_registry(name), {str(replaced): now})
                    pipe.delete(self._keys.space_checkpoint(space))  # the live one rules now
                    pipe.set(self._keys.namespace(name), space)
                    pipe.set(self._keys.checkpoint(name), position)
                    if at_position:  # checkpoint_events.py
                        pipe.set(self._keys.checkpoint_event(name), mark(at_position[0]))
                    else:
                        pipe.delete(self._keys.checkpoint_event(name))
                    pipe.delete(self._keys.unconfirmed(name))
                    progress = self._keys.progress(name)  # as a runner's batches count
                    pipe.hincrby(progress, "applied", self._applied[name])
                    pipe.hincrby(progress, "rebuilds", 1)
                    pipe.hset(progress, mapping={"advancedAt": now, "builtAt": now})
                    notice = {"projection": name, "position": position, "namespace": space}
                    pipe.publish(self._keys.checkpoints_channel(), orjson.dumps(notice))
                # The head the statuses show goes back with the log, never back otherwise.
                pipe.zadd(self._keys.head(), {"head": position}, gt=not going_back)
                swap = self._keys.spaces.read()  # what it makes active, as a read would see
                replies = await pipe.execute(raise_on_error=False)
            except WatchError:
                return None
        if failure := failed_replies(",".join(names), replies, []):
            raise failure
        for name, space in spaces.items():
            self._keys.spaces.saw(swap, name, space, position)
        log.info(
            "rebuilt %s up to position %d; now active: %s",
            ", ".join(names),
            position,
            ", ".join(spaces.values()),
        )
        return Swapped(position, [str(space) for space in old if space is not None])

    async def _drop_unless_swapped_in(self, spaces: dict[str, str]) -> None:
        """Drops the spaces of a build that failed or was cancelled, except those its swap
        made active. A cancellation can arrive after the swap's EXEC reached Redis and
        before its reply did (a runner losing its lease mid-rebuild): dropping then
        emptied the active space under a checkpoint that said it was complete, and the
        runner went on from there (an e2e fault test found feeds missing every post before
        the fault). Each space is claimed atomically: its build checkpoint goes unless the
        space is active, so a swap still in flight fails its WATCH on that checkpoint."""
        dropped = []
        for name, space in spaces.items():
            keys = [self._keys.namespace(name), self._keys.space_checkpoint(space)]
            if await self._redis.eval(_CLAIM_UNLESS_ACTIVE, len(keys), *keys, space):
                dropped.append(space)
        await self._drop(dropped)

    async def _drop(self, spaces: Iterable[str]) -> None:
        for space in spaces:
            await drop_space(self._redis, space)
            for projection in self._projections:
                await self._redis.zrem(self._keys.space_registry(projection.name), space)
