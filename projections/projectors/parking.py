"""Parking: a sequenced dead-letter queue per projection, one queue per stream.

An event a projection cannot apply (its row cannot be decoded, or its handler
fails) is parked instead of retried forever, and the projection's checkpoint
moves on, so every other stream keeps flowing. Parking is per stream and
ordered: once an event of a stream is parked, every later event of that stream
is parked behind it, never applied out of order on top of a read model that
misses its predecessor (Axon's sequenced dead-letter queue).

`retry` re-applies a projection's parked events stream by stream, in log order,
stopping at the first that still fails; `skip` drops one deliberately, and the
log records the decision (eventstore/skips.py) so a replay drops it too and
`verify` agrees. Both run under WATCH of the checkpoint and of the parked
streams, as the runner's batches do, so neither can interleave with a batch.

A retried event lands after events of other streams that were applied while it
waited. When a parked stream's events are read by other streams' handlers too (a
post's likes and comments), the read model can differ from a replay: `verify`
says so, and a rebuild repairs it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

import orjson
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import WatchError

from domain.events import EVENT_TYPES
from domain.ports import RecordedEvent
from domain.upcasting import Undecodable
from projections.keyspace.keys import Keys
from projections.projectors.commands import Commands
from projections.projectors.projection import Projection
from projections.projectors.scripts import Scripts
from projections.projectors.tx import Tx

log = logging.getLogger(__name__)

AUDIT_LENGTH = 1000
WATCH_ATTEMPTS = 50


class CannotApply(Exception):
    """An Undecodable event reaching a projection: it is parked with the decoder's reason."""


@dataclass(frozen=True)
class ParkedEvent:
    position: int
    stream_id: str
    type: str
    error: str
    parked_at: float  # epoch seconds
    behind: int | None  # the parked position it waits behind; None when it failed itself

    def encode(self) -> bytes:
        return orjson.dumps(
            {
                "position": self.position,
                "streamId": self.stream_id,
                "type": self.type,
                "error": self.error,
                "parkedAt": self.parked_at,
                "behind": self.behind,
            }
        )

    @staticmethod
    def decode(text: str | bytes) -> ParkedEvent:
        d = orjson.loads(text)
        return ParkedEvent(
            d["position"], d["streamId"], d["type"], d["error"], d["parkedAt"], d["behind"]
        )


@dataclass(frozen=True)
class Parked:
    """One projection's parked events, in log order, and the streams they block."""

    projection: str
    events: list[ParkedEvent]
    streams: dict[str, int]  # stream id -> its first parked position


class Log(Protocol):
    async def at(self, positions: Sequence[int]) -> list[RecordedEvent]: ...


def type_name(recorded: RecordedEvent) -> str:
    event = recorded.event
    return event.type_name if isinstance(event, Undecodable) else type(event).__name__


def apply(projection: Projection, recorded: RecordedEvent, tx: Tx) -> None:
    """Applies one event, raising for one that could not be decoded, unless it is of a
    known type the projection ignores anyway."""
    event = recorded.event
    if isinstance(event, Undecodable):
        known = EVENT_TYPES.get(event.type_name)
        if known is not None and known not in projection.handlers:
            return
        raise CannotApply(event.error)
    projection.apply(recorded, tx)


class Parking:
    """The parked events of one projection, as a runner's batch sees and extends them."""

    def __init__(self, keys: Keys, projection: str) -> None:
        self._keys = keys
        self._projection = projection
        self.streams_key = keys.parked_streams(projection)

    @staticmethod
    def blocked_streams(streams: Sequence[str], firsts: Sequence[str | None]) -> dict[str, int]:
        """Which of `streams` are parked, and since which position, from the HMGET of
        `streams_key` (each stream's first parked position, or None)."""
        return {s: int(first) for s, first in zip(streams, firsts, strict=True) if first}

    def park(
        self,
        pipe: Commands,
        recorded: RecordedEvent,
        error: str,
        behind: int | None,
    ) -> None:
        """Queues the parking of one event; a first failure also blocks its stream."""
        entry = ParkedEvent(
            recorded.position, recorded.stream_id, type_name(recorded), error, time.time(), behind
        )
        pipe.zadd(self._keys.parked(self._projection), {str(recorded.position): recorded.position})
        pipe.hset(
            self._keys.parked_events(self._projection), str(recorded.position), entry.encode()
        )
        if behind is None:
            pipe.hsetnx(self.streams_key, recorded.stream_id, recorded.position)
        level = logging.ERROR if behind is None else logging.WARNING
        log.log(
            level,
            "projection %s parked event %d (%s of %s): %s",
            self._projection,
            recorded.position,
            entry.type,
            recorded.stream_id,
            error if behind is None else f"behind parked event {behind}",
            extra={
                "projection": self._projection,
                "position": recorded.position,
                "stream_id": recorded.stream_id,
                "command_id": recorded.command_id,
                "correlation_id": recorded.correlation_id,
            },
        )

    def unpark(self, pipe: Commands, position: int) -> None:
        pipe.zrem(self._keys.parked(self._projection), str(position))
        pipe.hdel(self._keys.parked_events(self._projection), str(position))


async def read_parked(redis: Redis | Pipeline, keys: Keys, projection: str) -> Parked:
    entries = cast(dict[str, str], await redis.hgetall(keys.parked_events(projection)))
    streams = cast(dict[str, str], await redis.hgetall(keys.parked_streams(projection)))
    events = sorted((ParkedEvent.decode(text) for text in entries.values()), key=_position)
    return Parked(projection, events, {s: int(p) for s, p in streams.items()})


@dataclass(frozen=True)
class RetryResult:
    projection: str
    applied: list[int]
    still_parked: list[int]


async def retry(
    redis: Redis,
    keys: Keys,
    scripts: Scripts,
    projection: Projection,
    event_log: Log,
) -> RetryResult:
    """Re-applies the parked events, each stream in log order; the first event of a
    stream that still fails stays parked, with everything behind it."""
    for _ in range(WATCH_ATTEMPTS):
        try:
            return await _retry_once(redis, keys, scripts, projection, event_log)
        except WatchError:
            continue  # a batch or another retry moved on meanwhile; look again
    raise RuntimeError(f"projection {projection.name} kept moving; retry again")


async def _retry_once(
    redis: Redis,
    keys: Keys,
    scripts: Scripts,
    projection: Projection,
    event_log: Log,
) -> RetryResult:
    parking = Parking(keys, projection.name)
    checkpoint_key = keys.checkpoint(projection.name)
    async with redis.pipeline(transaction=True) as pipe:
        space_key = keys.namespace(projection.name)
        await pipe.watch(checkpoint_key, parking.streams_key, space_key)
        checkpoint = int(await pipe.get(checkpoint_key) or 0)
        space = await pipe.get(space_key)  # the active space is what the retry writes
        parked = await read_parked(pipe, keys, projection.name)
        head = await _head(pipe, keys)
        wanted = parked.events
        events = {e.position: e for e in await event_log.at([p.position for p in wanted])}
        pipe.multi()  # type: ignore[no-untyped-call]
        in_space = keys.with_space(projection.name, str(space)) if space else keys
        tx = Tx(Commands(), in_space, scripts, checkpoint, late=True)
        applied: list[int] = []
        still: list[int] = []
        failed: dict[str, int] = {}  # stream -> the position that failed again
        for entry in wanted:
            recorded = events.get(entry.position)
            if entry.stream_id in failed:
                still.append(entry.position)
                if recorded is not None:
                    parking.park(tx.pipe, recorded, "", behind=failed[entry.stream_id])
                continue
            if recorded is None:  # the row is gone from the log: nothing left to apply
                parking.unpark(tx.pipe, entry.position)
                continue
            mark = tx.mark()
            try:
                apply(projection, recorded, tx)
            except Exception as error:
                tx.discard_after(mark)
                failed[entry.stream_id] = entry.position
                still.append(entry.position)
                parking.park(tx.pipe, recorded, f"{type(error).__name__}: {error}", behind=None)
                tx.pipe.hset(parking.streams_key, entry.stream_id, entry.position)
            else:
                applied.append(entry.position)
                parking.unpark(tx.pipe, entry.position)
        for stream in {e.stream_id for e in wanted} - failed.keys():
            tx.pipe.hdel(parking.streams_key, stream)
        if applied:
            tx.pipe.hincrby(keys.progress(projection.name), "applied", len(applied))
        tx.queue_recomputes()
        tx.publish_notices()
        tx.pipe.replay(pipe)
        _announce(pipe, keys, head)
        await pipe.execute()
    return RetryResult(projection.name, applied, still)


async def unpark_one(
    redis: Redis, keys: Keys, projection: str, position: int
) -> ParkedEvent | None:
    """Drops one parked event (after the log recorded the skip). When it headed its
    stream's queue, the stream's next parked event heads it now; it stays parked until
    a retry, so nothing is applied without the operator asking."""
    parking = Parking(keys, projection)
    for _ in range(WATCH_ATTEMPTS):
        try:
            async with redis.pipeline(transaction=True) as pipe:
                await pipe.watch(parking.streams_key, keys.parked_events(projection))
                parked = await read_parked(pipe, keys, projection)
                entry = next((e for e in parked.events if e.position == position), None)
                if entry is None:
                    return None
                head = await _head(pipe, keys)
                rest = [
                    e.position
                    for e in parked.events
                    if e.stream_id == entry.stream_id and e.position != position
                ]
                pipe.multi()  # type: ignore[no-untyped-call]
                unparking = Commands()
                parking.unpark(unparking, position)
                unparking.replay(pipe)
                _announce(pipe, keys, head)
                if rest:
                    pipe.hset(parking.streams_key, entry.stream_id, min(rest))
                else:
                    pipe.hdel(parking.streams_key, entry.stream_id)
                await pipe.execute()
                return entry
        except WatchError:
            continue
    raise RuntimeError(f"projection {projection} kept moving; skip again")


async def _head(pipe: Pipeline, keys: Keys) -> int:
    return int(await pipe.zscore(keys.head(), "head") or 0)


def _announce(pipe: Pipeline, keys: Keys, head: int) -> None:
    """Queued in a retry's or skip's MULTI: the projections subscription reads again (on
    a notice of the head as it stands, which every listener understands) and finds the
    parked counts changed."""
    pipe.publish(keys.checkpoints_channel(), orjson.dumps({"head": head}))


async def audit(redis: Redis, keys: Keys, record: Mapping[str, Any]) -> None:
    """Keeps the operator's action where `parked list` shows it, and logs it."""
    log.warning("parked events: %s", record.get("summary", ""), extra=dict(record))
    async with redis.pipeline(transaction=True) as pipe:
        pipe.lpush(keys.parked_audit(), orjson.dumps(record))
        pipe.ltrim(keys.parked_audit(), 0, AUDIT_LENGTH - 1)
        await pipe.execute()


async def audit_trail(redis: Redis, keys: Keys, count: int) -> list[dict[str, Any]]:
    texts = cast(list[str], await redis.lrange(keys.parked_audit(), 0, count - 1))
    return [orjson.loads(text) for text in texts]


def _position(entry: ParkedEvent) -> int:
    return entry.position
