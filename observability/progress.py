"""How far each projection is and whether it moves: one snapshot for /metrics, /ready, `status`.

Positions and progress come from Redis (every runner, in any process, writes them
with its checkpoint); the head and the commit time of the oldest unapplied event
come from the log itself, read at the moment of asking. A head cached somewhere
could freeze and make a stuck projection look current (Marten #4984); the log cannot.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from redis.asyncio import Redis

from domain.ports import RecordedEvent
from projections.keyspace.keys import Keys
from projections.projectors.checkpoint_events import mark, of_checkpoint
from projections.projectors.holders import PROJECTOR, Holder
from projections.readers.statuses import Standing, Standings


class Frontier(Protocol):
    @property
    def head(self) -> int: ...

    @property
    def next_recorded_at(self) -> dict[int, datetime]: ...


class Log(Protocol):
    async def frontier(self, checkpoints: Iterable[int]) -> Frontier: ...

    async def at(self, positions: Sequence[int]) -> list[RecordedEvent]: ...


@dataclass(frozen=True)
class Progress:
    name: str
    position: int
    head: int
    lag_seconds: float  # age of the oldest event not yet applied; 0 when caught up
    applied: int  # events applied, ever (reset when Redis starts empty)
    rebuilds: int  # builds swapped in: the first, each after a loss of data, each `rebuild`
    parked: int  # events set aside because the projector could not apply them
    parked_streams: int  # streams whose later events wait behind a parked one
    advanced_at: float | None  # epoch seconds when the checkpoint last moved
    # Epoch seconds when the last build was swapped in. `rebuilds` and `applied` live in
    # Redis with the read models and start again with them: a count of 1 before a loss
    # and 1 after shows no increase. A build's time always moves.
    built_at: float | None
    at: float  # epoch seconds when this snapshot was taken
    # The log holds another event at the checkpoint than the one applied there
    # (projections/projectors/checkpoint_events.py): restored from an older backup and
    # written past the checkpoint since. Queries serve events the log does not have until
    # the projector's rebuild swaps in; neither lag nor `ahead` shows it.
    went_back: bool = False
    # A projector holds this projection's lease: something applies its events. With none,
    # a lag is not being caught up, however young it is (an outside probe read "catching
    # up" for 30 s after killing every projector).
    projector_runs: bool = True
    # Who holds its rebuild lock (projections/projectors/holders.py), while a rebuild of
    # it runs: the projector's own, or an `inkwell rebuild`.
    rebuilt_by: str | None = None

    @property
    def lag(self) -> int:
        return max(0, self.head - self.position)

    @property
    def ahead(self) -> int:
        """Events past the log's head: the log went back under read models built further
        (restored from an older backup, or replaced), and queries serve events it does not
        have until the projector's rebuild swaps in. Lag alone read 0, "caught up"."""
        return max(0, self.position - self.head)

    @property
    def idle_seconds(self) -> float | None:
        return None if self.advanced_at is None else max(0.0, self.at - self.advanced_at)

    def stalled(self, after_seconds: float) -> bool:
        """Has work to do and has not moved for `after_seconds`.

        Both clocks must have run out: the oldest unapplied event must be older than the
        limit (a projection idle for an hour that was handed an event a moment ago has
        not had its chance yet), and the checkpoint must not have moved within it (a long
        catch-up that keeps advancing is not stuck).
        """
        if self.lag == 0:
            return False
        idle = self.idle_seconds
        return self.lag_seconds > after_seconds and (idle is None or idle > after_seconds)

    def stalled_reason(self, after_seconds: float) -> str:
        """What /ready and `status` say of a stalled projection."""
        idle = "never" if self.idle_seconds is None else f"not for {self.idle_seconds:.1f}s"
        return (
            f"stalled: {self.lag} events waiting for {self.lag_seconds:.1f}s, "
            f"applied {idle} (limit {after_seconds:g}s)"
        )

    def state(self, stalled_after: float) -> str:
        if self.ahead:
            return "ahead of the log"
        if self.went_back:
            return "not the log's"
        if self.lag == 0:
            return "caught up"
        if self.waits_for_rebuild(stalled_after):
            return "rebuilding"
        if not self.projector_runs:
            return "no projector"
        return "stalled" if self.stalled(stalled_after) else "catching up"

    def waits_for_rebuild(self, stalled_after: float) -> bool:
        """Its checkpoint waits for a rebuild's swap: the projector's own rebuild (its
        runner applies nothing else meanwhile), or an `inkwell rebuild` while nothing
        moves the checkpoint (beside one, a running projector follows the live read
        models). After Redis lost its data, its checkpoint, progress and at moments its
        lease gone with the rest, the projector's rebuild read "stalled ... applied never"
        or "no projector" (an outside probe)."""
        if self.rebuilt_by is None:
            return False
        holder = Holder.parse(self.rebuilt_by)
        if holder is not None and holder.role == PROJECTOR:
            return True
        return not self.projector_runs or self.stalled(stalled_after)


class ProgressReader:
    def __init__(self, redis: Redis, keys: Keys, names: Sequence[str], log: Log) -> None:
        self._redis = redis
        self._keys = keys
        self._standings = Standings(keys, names)
        self._log = log

    @property
    def names(self) -> tuple[str, ...]:
        return self._standings.names

    async def read(self) -> list[Progress]:
        async with self._redis.pipeline(transaction=False) as pipe:
            self._standings.queue(pipe)
            for name in self.names:
                pipe.hgetall(self._keys.progress(name))
            pipe.mget([self._keys.checkpoint_event(name) for name in self.names])
            pipe.mget([self._keys.lease(name) for name in self.names])
            pipe.mget([self._keys.rebuilding(name) for name in self.names])
            replies = list(await pipe.execute())
        rebuilders: list[str | None] = replies.pop()
        leases: list[str | None] = replies.pop()
        marks: list[str | None] = replies.pop()
        replies_left = iter(replies)
        standings = self._standings.take(replies_left)
        frontier = await self._log.frontier([one.position for one in standings])
        went_back = await self._went_back(standings, marks)
        now = datetime.now(UTC)
        return [
            _progress(one, frontier, next(replies_left), now, one.name in went_back, lease, by)
            for one, lease, by in zip(standings, leases, rebuilders, strict=True)
        ]

    async def _went_back(
        self, standings: Sequence[Standing], marks: Sequence[str | None]
    ) -> set[str]:
        """The projections whose checkpoint's event is no longer the log's, in one read of
        the log (marks of other positions than the checkpoints say nothing: ignored)."""
        marked = {
            one.name: recorded
            for one, recorded in zip(standings, marks, strict=True)
            if recorded is not None and of_checkpoint(recorded, one.position)
        }
        if not marked:
            return set()
        wanted = {one.position for one in standings if one.name in marked}
        held = {e.position: mark(e) for e in await self._log.at(sorted(wanted))}
        return {
            one.name
            for one in standings
            if one.name in marked and held.get(one.position) != marked[one.name]
        }


def _progress(
    one: Standing,
    frontier: Frontier,
    progress: dict[str, str],
    now: datetime,
    went_back: bool,
    lease: str | None,
    rebuilt_by: str | None,
) -> Progress:
    oldest = frontier.next_recorded_at.get(one.position)
    return Progress(
        name=one.name,
        position=one.position,
        head=frontier.head,
        lag_seconds=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
        applied=int(progress.get("applied", 0)),
        rebuilds=int(progress.get("rebuilds", 0)),
        parked=one.parked,
        parked_streams=one.parked_streams,
        advanced_at=float(progress["advancedAt"]) if "advancedAt" in progress else None,
        built_at=float(progress["builtAt"]) if "builtAt" in progress else None,
        at=now.timestamp(),
        went_back=went_back,
        projector_runs=lease is not None,
        rebuilt_by=rebuilt_by,
    )
