"""Runs one projection: applies events to Redis exactly once, from pub/sub or from the log.

Pub/sub is the fast path and the log is the truth. The runner applies a live
batch only when it continues the checkpoint without a gap; on a gap, a lost
message, a start or a quiet second it reads the log from its checkpoint instead.
Each batch goes to Redis in one MULTI/EXEC together with the new checkpoint,
under WATCH of that checkpoint: a batch is applied whole or not at all, and never
twice, even if two runners race for the same projection.
"""

from __future__ import annotations

import asyncio
import logging
import time

import orjson
from redis.asyncio import Redis
from redis.exceptions import WatchError

from domain.ports import EventLog, RecordedEvent
from projections import messages
from projections.broadcast import Broadcast
from projections.keys import Keys
from projections.lease import Lease
from projections.parking import Parking, type_name
from projections.parking import apply as apply_one
from projections.projection import Projection
from projections.scripts import Scripts
from projections.tx import Tx

log = logging.getLogger(__name__)

BATCH = 500
IDLE_SECONDS = 1.0
LEASE_SECONDS = 5.0


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
    ) -> None:
        """Without a broadcast the runner can catch up and apply, but not follow (run)."""
        self.projection = projection
        self._redis = redis
        self._keys = keys
        self._scripts = scripts
        self._log = event_log
        self._broadcast = broadcast
        self._checkpoint_key = keys.checkpoint(projection.name)
        self._parking = Parking(keys, projection.name)
        self._skipped: frozenset[int] = frozenset()
        self.lease = Lease(redis, keys.lease(projection.name), lease_seconds)
        self._lease_seconds = lease_seconds

    async def run(self) -> None:
        """Runs until cancelled: stands by until it holds the projection's lease, follows
        the log while it keeps it. Redis or database outages are waited out, not fatal."""
        backoff = 0.1
        while True:
            try:
                if await self.lease.acquire():
                    log.info("projection %s: this process runs it", self.projection.name)
                    try:
                        await self._follow_while_leased()
                    finally:
                        await self.lease.release()
                else:
                    await asyncio.sleep(self._lease_seconds / 3)
                backoff = 0.1
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

    async def _follow_while_leased(self) -> None:
        """Follows the log, renewing the lease a few times per term; returns when the
        lease is lost (taken over after a pause too long to renew it)."""
        follow = asyncio.create_task(self._follow(), name=f"follow {self.projection.name}")
        self._following = follow  # a strong reference, in case its cancellation is slow
        try:
            while not follow.done():
                done, _ = await asyncio.wait({follow}, timeout=self._lease_seconds / 3)
                if not done and not await self.lease.renew():
                    log.warning("projection %s: lease lost; standing by", self.projection.name)
                    return
            follow.result()  # surfaces the error that ended it
        finally:
            follow.cancel()

    async def _follow(self) -> None:
        assert self._broadcast is not None, "following needs the process's broadcast"
        async with self._broadcast.subscribe(self._keys.events_channel()) as inbox:
            await self.catch_up()
            while True:
                if not await inbox.wait(IDLE_SECONDS):
                    await self.catch_up()
                    continue
                payloads = inbox.take(BATCH)
                live = None if inbox.take_lost() else _decoded(payloads)
                if live is None or not await self.apply(live, from_log=False):
                    await self.catch_up()

    async def catch_up(self) -> None:
        """Reads the log from the checkpoint until it has applied everything there."""
        while True:
            checkpoint = int(await self._redis.get(self._checkpoint_key) or 0)
            events = await self._log.read_all(after=checkpoint, limit=BATCH)
            if events:
                # Skips are of positions already passed: only a read of the log (a replay,
                # a restart from an older checkpoint) can meet one again.
                self._skipped = await self._log.skipped(self.projection.name)
                await self.apply(events, from_log=True)
            if len(events) < BATCH:
                return

    async def apply(self, events: list[RecordedEvent], *, from_log: bool) -> bool:
        """Applies the events past the checkpoint. Live events must continue the checkpoint
        without a gap (positions are consecutive unless a PostgreSQL transaction rolled
        back); when they do not, nothing is applied and False asks for a catch-up."""
        async with self._redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(self._checkpoint_key, self._parking.streams_key)
                checkpoint = int(await pipe.get(self._checkpoint_key) or 0)
                fresh = [e for e in sorted(events, key=_position) if e.position > checkpoint]
                if not fresh:
                    return True
                if not from_log and not _continues(checkpoint, fresh):
                    return False
                blocked = await self._parking.blocked_streams(pipe, fresh)
                pipe.multi()  # type: ignore[no-untyped-call]
                tx = Tx(pipe, self._keys, self._scripts, fresh[-1].position)
                self._queue(fresh, tx, blocked)
                await pipe.execute()
            except WatchError:
                return False  # another runner moved the checkpoint; re-read it from the log
        self._report(fresh, from_log)
        return True

    def _queue(self, events: list[RecordedEvent], tx: Tx, blocked: dict[str, int]) -> None:
        """Queues the batch's writes. An event of a parked stream is parked behind it; one
        that fails to apply is parked and blocks its stream (projections/parking.py), unless
        an operator skipped it, which drops it."""
        parked = 0
        for recorded in events:
            if recorded.stream_id in blocked:
                self._parking.park(tx.pipe, recorded, "", behind=blocked[recorded.stream_id])
                parked += 1
                continue
            mark = tx.queued()
            try:
                apply_one(self.projection, recorded, tx)
            except Exception as error:
                tx.discard_after(mark)
                parked += 1
                if recorded.position in self._skipped:
                    log.warning(
                        "projection %s dropped event %d (%s), skipped by an operator",
                        self.projection.name,
                        recorded.position,
                        type_name(recorded),
                    )
                    continue
                self._parking.park(
                    tx.pipe, recorded, f"{type(error).__name__}: {error}", behind=None
                )
                blocked[recorded.stream_id] = recorded.position
        # How far and when, for /ready and /metrics: whoever asks sees every runner's work.
        progress = self._keys.progress(self.projection.name)
        tx.pipe.hincrby(progress, "applied", len(events) - parked)
        tx.pipe.hset(progress, "advancedAt", time.time())
        last = events[-1].position
        tx.publish_notices()
        tx.pipe.set(self._checkpoint_key, last)
        tx.pipe.zadd(self._keys.head(), {"head": last}, gt=True)
        tx.pipe.publish(
            self._keys.checkpoints_channel(),
            orjson.dumps({"projection": self.projection.name, "position": last}),
        )

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


def _decoded(payloads: list[str]) -> list[RecordedEvent] | None:
    """None when a message cannot be decoded (a newer process published it, say): the
    log is read instead, where such an event is parked rather than crashing the runner."""
    try:
        return [messages.decode(payload) for payload in payloads]
    except Exception as error:
        log.warning(
            "undecodable event message (%s: %s); reading the log", type(error).__name__, error
        )
        return None


def _position(recorded: RecordedEvent) -> int:
    return recorded.position


def _continues(checkpoint: int, events: list[RecordedEvent]) -> bool:
    return all(event.position == checkpoint + offset + 1 for offset, event in enumerate(events))
