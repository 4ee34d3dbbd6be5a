"""Runs one projection: applies events to Redis exactly once, from pub/sub or from the log.

Pub/sub is the fast path and the log is the truth. The runner applies a live
batch only when it continues the checkpoint without a gap; on a gap, a lost
message, a start or a quiet second it reads the log from its checkpoint instead.
Each batch goes to Redis in one MULTI/EXEC under WATCH of the checkpoint it was read
against, and the checkpoint moves once every reply was checked: a batch is applied
whole or not at all, and never twice, even if two runners race for the same
projection. The batches of a process's runners that are ready together share those
round trips (projections/projectors/joint.py).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from domain.ports import EventLog, RecordedEvent
from projections.keyspace.keys import Keys
from projections.live.broadcast import Broadcast
from projections.projectors import messages
from projections.projectors.checkpoint_events import log_holds, mark
from projections.projectors.commands import Commands
from projections.projectors.failures import BatchFailed, RebuildRunning, failed_replies
from projections.projectors.holders import PROJECTOR
from projections.projectors.joint import Batch, JointBatches
from projections.projectors.lease import Lease
from projections.projectors.log_binding import BoundToAnotherLog
from projections.projectors.parking import Parking
from projections.projectors.projection import Projection
from projections.projectors.queueing import EventQueue
from projections.projectors.rebuild import Rebuild, sweep_abandoned
from projections.projectors.scripts import Scripts
from projections.projectors.tx import Tx
from projections.redisio.cancellation import cancel_and_wait, complete

log = logging.getLogger(__name__)

BATCH = 500
IDLE_SECONDS = 1.0
LEASE_SECONDS = 5.0
# How often the lease holder deletes spaces nobody uses any more (sweep_abandoned).
SWEEP_SECONDS = 60.0


class _TermPassed(Exception):
    """Following went on past the lease's term (see ProjectionRunner._check_term)."""

    def __init__(self) -> None:
        # Its message is what an INFO line says when a stopped follow task ended with it
        # (projections/redisio/cancellation.py): "... ended with _TermPassed: " and
        # nothing else puzzled an operator (an outside probe).
        super().__init__("the lease's term passed before it was renewed; following stopped")


class ProjectionRunner:
    def __init__(
        self,
        projection: Projection,
        redis: Redis,
        keys: Keys,
        scripts: Scripts,
        event_log: EventLog,
        broadcast: Broadcast | None = None,
        lease_seconds: float = LEASE_SECONDS,
        joint: JointBatches | None = None,
    ) -> None:
        """Without a broadcast the runner can catch up and apply, but not follow (run).
        Without `joint` (the process's runners share one) its batches go alone."""
        self.projection = projection
        self._redis = redis
        self._keys = keys
        self._scripts = scripts
        self._log = event_log
        self._broadcast = broadcast
        self._checkpoint_key = keys.checkpoint(projection.name)
        self._parking = Parking(keys, projection.name)
        self._skipped: frozenset[int] = frozenset()
        self._lease: Lease | None = None  # made once the log's identity is known
        self._identity: str | None = None  # the log's, read once
        self._lease_seconds = lease_seconds
        self._space: str | None = None  # the active space, as last read from Redis
        self._deleting: asyncio.Task[None] | None = None  # a replaced space, after a grace
        self._joint = joint or JointBatches(redis)
        # While following: the loop time at which the lease's current term ends.
        self._term_ends: float | None = None

    async def run(self) -> None:
        """Runs until cancelled: stands by until it holds the projection's lease, follows
        the log while it keeps it. Redis or database outages are waited out, not fatal."""
        try:
            await self._run()
        finally:
            if self._deleting is not None:
                self._deleting.cancel()

    async def _run(self) -> None:
        backoff = 0.1
        standing_by = False
        bound_elsewhere = False
        while True:
            try:
                lease = await self._the_lease()
                if await self._hold(lease.acquire()):
                    if not bound_elsewhere:
                        log.info("projection %s: this process runs it", self.projection.name)
                    standing_by = False
                    try:
                        await self._follow_while_leased(lease)
                    finally:
                        # At once, so that a standby takes over now, not after the term.
                        await complete(lease.release())
                    bound_elsewhere = False
                else:
                    if not standing_by:
                        log.info(
                            "projection %s: another process runs it; standing by",
                            self.projection.name,
                        )
                        standing_by = True
                    await asyncio.sleep(self._lease_seconds / 3)
                backoff = 0.1
            except BoundToAnotherLog as error:
                if not bound_elsewhere:
                    log.error("projection %s stopped: %s", self.projection.name, error)
                bound_elsewhere = True
                await asyncio.sleep(self._lease_seconds)
            except Exception as error:
                log.warning(
                    "projection %s stopped (%s: %s); restarting in %.1fs",
                    self.projection.name,
                    type(error).__name__,
                    error,
                    backoff,
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _the_lease(self) -> Lease:
        if self._lease is None:
            name = self.projection.name
            identity = await self._log_identity()
            self._lease = Lease(self._redis, self._keys.lease(name), self._lease_seconds, identity)
        return self._lease

    async def _log_identity(self) -> str:
        if self._identity is None:
            self._identity = await self._log.identity()
        return self._identity

    async def _follow_while_leased(self, lease: Lease) -> None:
        """Follows the log, renewing the lease a few times per term; returns when the
        lease is lost (taken over after a pause too long to renew it)."""
        follow = asyncio.create_task(self._follow(), name=f"follow {self.projection.name}")
        self._following = follow  # a strong reference, in case its cancellation is slow
        try:
            while not follow.done():
                done, _ = await asyncio.wait({follow}, timeout=self._lease_seconds / 3)
                if not done and not await self._hold(lease.renew(retake=self._within_term())):
                    log.warning("projection %s: lease lost; standing by", self.projection.name)
                    return
            follow.result()  # surfaces the error that ended it
        except _TermPassed:
            log.warning(
                "projection %s: the lease's term passed before it was renewed (was the "
                "process paused?); following stops until the lease is held again",
                self.projection.name,
            )
        finally:
            self._term_ends = -math.inf  # a follow that outlives its cancellation stops
            await cancel_and_wait(follow)

    async def _hold(self, attempt: Awaitable[bool]) -> bool:
        """A lease acquire or renewal; held, following may go on until the term ends. The
        term is counted from before the request was sent: Redis counts it from later."""
        sent = asyncio.get_running_loop().time()
        held = await attempt
        if held:
            self._term_ends = sent + self._lease_seconds
        return held

    def _within_term(self) -> bool:
        return self._term_ends is not None and asyncio.get_running_loop().time() < self._term_ends

    def _check_term(self) -> None:
        """Raises _TermPassed while following past the lease's term, before the next step.

        A process paused longer than a term (SIGSTOP, a frozen VM or container) went on,
        once resumed, with what it had read before, while a standby held the lease: the
        renewal that would have told it comes only every third of a term. The two ran at
        once, each took the other's unconfirmed marker (left for the moment between a
        batch's EXEC and its confirmation) for a crash, and rebuilt the projection: 23
        rebuilds in the 10 s after two pauses, with two `project` processes under load.
        And the follow task's cancellation could be lost (redis-py 8.1 can swallow one
        that lands in a read: docs/field-notes.md): it followed on without the lease for
        good, its runner never stood for the lease again, and beside a third process the
        two rebuilt 64 times in 20 s."""
        if self._term_ends is not None and not self._within_term():
            raise _TermPassed

    async def _sweep_now_and_then(self) -> None:
        """Deletes the projection's abandoned spaces once caught up after taking the
        lease, and every SWEEP_SECONDS after: a process killed within a swap's grace
        period, or a rebuild cancelled after its swap, leaves the replaced space behind,
        a whole copy of the read models that only the next rebuild would otherwise
        delete. Its own task: a big space takes a while to delete, and following goes
        on meanwhile."""
        while True:
            self._check_term()  # ends it should its cancellation have been lost
            try:
                await sweep_abandoned(self._redis, self._keys, self.projection.name)
            except Exception as error:
                log.warning(
                    "projection %s: could not delete abandoned spaces (%s: %s)",
                    self.projection.name,
                    type(error).__name__,
                    error,
                )
            await asyncio.sleep(SWEEP_SECONDS)

    async def _follow(self) -> None:
        assert self._broadcast is not None, "following needs the process's broadcast"
        channel = self._keys.events_channel()
        async with self._broadcast.subscribe(channel, messages.INBOX_MESSAGES) as inbox:
            await self.catch_up()
            # Once caught up: following comes first, and a rebuild on the way swept.
            sweeping = asyncio.create_task(self._sweep_now_and_then())
            try:
                while True:
                    self._check_term()
                    if not await inbox.wait(IDLE_SECONDS):
                        await self.catch_up()
                        continue
                    live = messages.take_events(inbox, BATCH)
                    if live is None or not await self.apply(live, from_log=False):
                        await self.catch_up()
            finally:
                await cancel_and_wait(sweeping)

    async def catch_up(self) -> None:
        """Reads the log from the checkpoint until it has applied everything there. A
        projection without an active space, or whose last batch was not confirmed, is
        rebuilt first: nothing is ever applied on top of a space Redis lost or half-wrote.
        Nor on top of a space built from another log: a checkpoint past the log's head
        means the log was replaced (a new database, a SQLite file deleted) or restored
        from an older backup while Redis kept its read models. Every new event then had a
        position the checkpoint had passed, and was skipped in silence: after a reset,
        `registerUser` committed at position 1 and its `viewer` stayed null, `createPost`'s
        post was NOT_FOUND, and the feed showed the old log's posts."""
        head_raised = False  # once a catch-up, where it reads events
        while True:
            self._check_term()
            state = await self._state()
            await self._check_binding(state.log)
            if state.space is None or state.unconfirmed:
                await self._recover(state)
                continue
            self._space = state.space
            events = await self._log.read_all(after=state.checkpoint, limit=BATCH)
            if events and not head_raised:
                await self._raise_head(await self._log.head_position())
                head_raised = True
            head = None if events else await self._log.head_position()
            if why := await self._gone_back(state.checkpoint, head):
                log.error(
                    "projection %s: %s: rebuilding its read models from the log",
                    self.projection.name,
                    why,
                )
                await self._rebuild()
                continue
            if events:
                # Skips are of positions already passed: only a read of the log (a replay,
                # a restart from an older checkpoint) can meet one again.
                self._skipped = await self._log.skipped(self.projection.name)
            if events and not await self.apply(events, from_log=True, after=state.checkpoint):
                continue  # Redis changed between the read and the apply: look again
            if head is not None:  # caught up: the head was read above
                await self._raise_head(head)
            if len(events) < BATCH:
                return

    async def _gone_back(self, checkpoint: int, head: int | None) -> str | None:
        """Why the log is not the one the read models were built from, if it went back:
        its head (when read) behind the checkpoint, or another event at the checkpoint
        than the one applied there (checkpoint_events.py)."""
        if head is not None and head < checkpoint:
            return (
                f"its checkpoint {checkpoint} is past the log's head {head} (the log was "
                "replaced, or restored from an older backup)"
            )
        recorded = await self._redis.get(self._keys.checkpoint_event(self.projection.name))
        if await log_holds(self._log, checkpoint, str(recorded) if recorded else None):
            return None
        return (
            f"the log has another event at its checkpoint {checkpoint} than the one it "
            "applied there (the log was restored from an older backup and written since)"
        )

    async def _raise_head(self, head: int) -> None:
        """Raises the head Redis keeps to the log's `head`, read once the read models were
        known to be this log's. Commits raise it as they are published; a Redis restarted
        from an older snapshot brought an older one back, and the `projections` query and
        subscription, which read Redis alone, said lag 0 while the projectors caught up 30
        events (an outside probe; /ready and `status` read the log and said 30)."""
        await self._redis.zadd(self._keys.head(), {"head": head}, gt=True)

    async def _recover(self, state: _State) -> None:
        """Rebuilds the projection into a new space, by the same path as `rebuild`, saying
        why."""
        name = self.projection.name
        if state.unconfirmed:
            log.error(
                "projection %s: a batch was refused or never confirmed; its read "
                "models may be half-applied: rebuilding them from the log",
                name,
            )
        elif self._space is not None:
            log.error(
                "projection %s: Redis lost its read models (flushed or restarted "
                "empty): rebuilding them from the log",
                name,
            )
        else:
            log.warning("projection %s has no read models in Redis: building them", name)
        await self._rebuild()

    async def _rebuild(self) -> None:
        self._check_term()  # the state read may have waited out a pause: a rebuild is costly
        name = self.projection.name
        rebuild = Rebuild(
            self._redis, self._keys, self._scripts, self._log, [self.projection], by=PROJECTOR
        )
        try:
            swapped = await rebuild.run()
        except RebuildRunning as running:
            log.warning("projection %s: waiting for the rebuild under way (%s)", name, running)
            await asyncio.sleep(self._lease_seconds / 3)
            return
        # The old space goes once no process reads it; the runner follows the new one now.
        self._deleting = asyncio.create_task(rebuild.delete_old(swapped))

    async def _check_binding(self, bound: str | None) -> None:
        """Raises BoundToAnotherLog once a process of another log took the read models
        over (log_binding.py), which it does only while no process of this log holds a
        lease: this one was paused or cut off from Redis meanwhile. Records this log's
        identity again where Redis lost it."""
        identity = await self._log_identity()
        if bound is None:
            await self._redis.set(self._keys.log(), identity, nx=True)
        elif bound != identity:
            raise BoundToAnotherLog(
                f"the read models under prefix {self._keys.prefix!r} were taken over by "
                f"event log {bound} while this process (log {identity}) was paused or cut "
                "off from Redis; this process no longer projects into them"
            )

    async def _state(self) -> _State:
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in self._watched():
                pipe.get(key)
            checkpoint, space, unconfirmed, bound = await pipe.execute()
        return _State(
            int(checkpoint or 0),
            str(space) if space else None,
            unconfirmed is not None,
            str(bound) if bound else None,
        )

    def _watched(self) -> list[str]:
        name = self.projection.name
        keys = self._keys
        return [self._checkpoint_key, keys.namespace(name), keys.unconfirmed(name), keys.log()]

    async def apply(
        self, events: list[RecordedEvent], *, from_log: bool, after: int | None = None
    ) -> bool:
        """Applies the events past the checkpoint, if Redis still holds what they were
        read against: the active space this runner follows, no unconfirmed batch, and the
        checkpoint `after` (a log batch's) or one the events continue without a gap (a
        live batch's: positions are consecutive unless a PostgreSQL transaction rolled
        back). Otherwise nothing is applied and False asks for a catch-up. Raises
        BatchFailed when Redis refused part of the batch. The batches other runners of
        this process hand in with it go to Redis with it (projections/projectors/joint.py)."""
        return await self._joint.apply(Batch(self, events, from_log, after))

    def watched_keys(self) -> list[str]:
        """What a batch is read against, watched until its EXEC."""
        return [*self._watched(), self._parking.streams_key]

    def state_read(self, streams: list[str]) -> tuple[tuple[Any, ...], AsyncScript]:
        """The batch_state script's reading of the watched keys and of the batch's streams'
        parking: checkpoint, space, unconfirmed marker, bound log, then each stream's
        first parked."""
        keys = self.watched_keys()
        script = self._scripts.batch_state
        return ("EVALSHA", script.sha, len(keys), *keys, *streams), script

    def plan(self, batch: Batch, state: list[Any]) -> Plan | bool:
        """The batch's commands, if it applies against `state` (its reading under WATCH);
        else whether it needs nothing (True: a log batch with nothing past the
        checkpoint) or a look at the log (False; so does any published batch holding a
        position the checkpoint passed)."""
        raw, space, unconfirmed, bound, *firsts = state
        checkpoint = int(raw or 0)
        if space is None or space != self._space or unconfirmed is not None:
            return False
        if bound != self._identity:  # the catch-up says why (_check_binding)
            return False
        if batch.after is not None and checkpoint != batch.after:
            return False
        fresh = [e for e in sorted(batch.events, key=_position) if e.position > checkpoint]
        if not batch.from_log and len(fresh) < len(batch.events):
            # Published events the checkpoint passed: those a catch-up applied first, or
            # a log gone back and written since, which only the catch-up looks for
            # (checkpoint_events.py). Applied from the checkpoint on, the rest of such a
            # batch went on top of read models the restored log no longer matches.
            return False
        if not fresh:
            return True
        if not batch.from_log and not _continues(checkpoint, fresh):
            return False
        blocked = Parking.blocked_streams(batch.streams, firsts)
        keys = self._keys.with_space(self.projection.name, space)
        tx = Tx(Commands(), keys, self._scripts, fresh[-1].position)
        tx.pipe.set(self._keys.unconfirmed(self.projection.name), fresh[-1].position)
        owners = self._queue(fresh, tx, blocked)
        return Plan(self, fresh, batch.from_log, space, tx, [None, *owners])

    def confirmation(self, plan: Plan) -> tuple[tuple[Any, ...], AsyncScript]:
        """The batch's second step: the checkpoint moves and the notices go out only now
        that every reply was checked. Its first step set the unconfirmed marker, so a
        crash in between has the space rebuilt rather than trusted. On the batch's
        connection, its WATCH ended by the EXEC."""
        name = self.projection.name
        last = plan.fresh[-1].position
        notice = orjson.dumps({"projection": name, "position": last})
        keys = [self._keys.namespace(name), self._keys.unconfirmed(name)]
        keys += [self._checkpoint_key, self._keys.head(), self._keys.checkpoint_event(name)]
        args = [
            plan.space,
            last,
            self._keys.checkpoints_channel(),
            notice,
            mark(plan.fresh[-1]),
            *plan.tx.notice_args(),
        ]
        script = self._scripts.confirm_batch
        return ("EVALSHA", script.sha, len(keys), *keys, *args), script

    def _queue(
        self, events: list[RecordedEvent], tx: Tx, blocked: dict[str, int]
    ) -> list[RecordedEvent | None]:
        """Queues the batch's writes; returns, per queued command, the event it is for.
        An event of a parked stream is parked behind it; one that fails to apply is parked
        and blocks its stream (projections/projectors/parking.py), unless an operator skipped it,
        which drops it."""
        owners: list[RecordedEvent | None] = []
        queue = EventQueue(self.projection, self._parking, self._skipped, blocked)
        applied = queue.queue_all(events, tx, owners)
        tx.queue_recomputes()  # owned by no one event: a failure there fails the batch
        # How far and when, for /ready and /metrics: whoever asks sees every runner's work.
        progress = self._keys.progress(self.projection.name)
        tx.pipe.hincrby(progress, "applied", applied)
        tx.pipe.hset(progress, "advancedAt", time.time())
        return owners

    def _report(self, events: list[RecordedEvent], from_log: bool) -> None:
        """One line per applied batch naming the commands and correlations it carried, so
        a write can be followed from its request to every projection that applied it."""
        log.info(
            "projection %s applied %d events up to position %d",
            self.projection.name,
            len(events),
            events[-1].position,
            extra={
                "projection": self.projection.name,
                "first_position": events[0].position,
                "position": events[-1].position,
                "source": "log" if from_log else "pubsub",
                "command_ids": sorted({e.command_id for e in events}),
                "correlation_ids": sorted({e.correlation_id for e in events}),
            },
        )
        if log.isEnabledFor(logging.DEBUG):
            for e in events:
                log.debug(
                    "projection %s applied %s at %d",
                    self.projection.name,
                    type(e.event).__name__,
                    e.position,
                    extra={
                        "projection": self.projection.name,
                        "position": e.position,
                        "command_id": e.command_id,
                        "correlation_id": e.correlation_id,
                    },
                )


@dataclass(frozen=True)
class _State:
    """What a batch is read against: the checkpoint, the active space, whether the last
    batch is still unconfirmed, and the log the read models are bound to."""

    checkpoint: int
    space: str | None
    unconfirmed: bool
    log: str | None


@dataclass(frozen=True)
class Plan:
    """A batch that applies: its events past the checkpoint, the space it writes, its
    commands, and per command the event it is for (None for the batch's bookkeeping)."""

    runner: ProjectionRunner
    fresh: list[RecordedEvent]
    from_log: bool
    space: str
    tx: Tx
    owners: list[RecordedEvent | None]

    def failure(self, replies: list[object], ran: bool) -> BatchFailed | None:
        """The batch's failure, if Redis refused any of its commands; `ran`, whether the
        others ran."""
        return failed_replies(self.runner.projection.name, replies, self.owners, ran)

    def confirmation(self) -> tuple[tuple[Any, ...], AsyncScript]:
        return self.runner.confirmation(self)

    def report(self) -> None:
        self.runner._report(self.fresh, self.from_log)


def _position(recorded: RecordedEvent) -> int:
    return recorded.position


def _continues(checkpoint: int, events: list[RecordedEvent]) -> bool:
    return all(event.position == checkpoint + offset + 1 for offset, event in enumerate(events))
