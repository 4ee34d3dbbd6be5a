"""The batches of a process's runners that are ready together go to Redis together.

Every event reaches each of the five runners at once (one pub/sub message, one inbox
each), and each runner's batch is three round trips: its state read under WATCH, its
MULTI/EXEC, its confirmation. Under py-spy, an idle projector process applying batches
of one spent its time in those writes and the wake-ups of their replies (a quarter of
its samples in the socket write alone): fifteen round trips per event. Batches handed
in during one turn of the event loop now share each step: one write WATCHes every
runner's keys and reads every state; one MULTI/EXEC carries every batch that still
applies, each with its own unconfirmed marker; one write confirms them. Three round
trips per event, however many runners.

Each batch keeps its own outcome. A refusal inside the MULTI is pinned on the runner
whose commands drew it (BatchFailed), and the others confirm; if Redis refused a
command as it was queued, nothing ran and the others apply nothing either (False: they
read the log again). A watched key that changed (any runner's) aborts the shared EXEC,
and every runner looks again, as one alone would. A round trip that fails fails every
batch of it. A leader cancelled (its lease lost, its process stopping) hands the batches
back as not applied; stopped between the EXEC and the confirmations, it leaves their
markers, and those spaces are rebuilt, as after a crash there.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.asyncio.connection import AbstractConnection
from redis.commands.core import AsyncScript
from redis.exceptions import WatchError

from domain.ports import RecordedEvent
from projections.redisio import bulk_pipeline

if TYPE_CHECKING:
    from projections.projectors.runner import Plan, ProjectionRunner

BATCH_SECONDS = 30.0  # for each step, sent and answered: a stalled Redis, not load


@dataclass(frozen=True)
class Batch:
    """Events one runner asks to apply, and what it read them against (runner.apply)."""

    runner: ProjectionRunner
    events: list[RecordedEvent]
    from_log: bool
    after: int | None

    @property
    def streams(self) -> list[str]:
        return list(dict.fromkeys(e.stream_id for e in self.events))


Outcome = bool | BaseException


class JointBatches:
    """Shared by the runners of one process on one Redis (wiring/bootstrap.py); a runner
    built without one has its own, and its batches go alone."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._gathering: list[tuple[Batch, asyncio.Future[bool]]] = []

    async def apply(self, batch: Batch) -> bool:
        """The batch's outcome: applied (True), to read the log again (False), or the
        error that failed it. The first batch of a turn leads: it lets the loop run the
        other runners woken with it, then applies every batch handed in meanwhile."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._gathering.append((batch, future))
        if len(self._gathering) > 1:
            return await future
        gathered: list[tuple[Batch, asyncio.Future[bool]]] = []
        try:
            await asyncio.sleep(0)
            gathered, self._gathering = self._gathering, []
            outcomes = await self._apply([(b, f) for b, f in gathered if not f.cancelled()])
        except BaseException as error:
            if not gathered:  # cancelled while gathering: the batches are still to hand back
                gathered, self._gathering = self._gathering, []
            # The leader's error fails them too; cancelled, it leaves them to read the log.
            shared = error if isinstance(error, Exception) else False
            _settle(gathered[1:], {id(future): shared for _, future in gathered})
            raise
        _settle(gathered[1:], outcomes)
        return _result(outcomes.get(id(future), False))

    async def _apply(
        self, gathered: list[tuple[Batch, asyncio.Future[bool]]]
    ) -> dict[int, Outcome]:
        """Each future's outcome, by id."""
        outcomes: dict[int, Outcome] = {}
        async with self._watching() as (pipe, connection):
            states = await self._states(connection, [batch for batch, _ in gathered])
            plans: list[tuple[Plan, asyncio.Future[bool]]] = []
            for (batch, future), state in zip(gathered, states, strict=True):
                planned = batch.runner.plan(batch, state)
                if isinstance(planned, bool):
                    outcomes[id(future)] = planned
                else:
                    plans.append((planned, future))
            if not plans:
                return outcomes
            try:
                replies, ran = await self._transact(pipe, connection, [p for p, _ in plans])
            except WatchError:  # another runner, a swap or a flush changed it: look again
                return outcomes | {id(future): False for _, future in plans}
            confirming: list[tuple[Plan, asyncio.Future[bool]]] = []
            for (plan, future), part in zip(plans, replies, strict=True):
                failure = plan.failure(part, ran)
                if failure is not None:
                    outcomes[id(future)] = failure  # the checkpoint did not move
                elif not ran:
                    outcomes[id(future)] = False
                else:
                    confirming.append((plan, future))
            confirmed = await self._confirm(connection, [plan for plan, _ in confirming])
            for (plan, future), reply in zip(confirming, confirmed, strict=True):
                outcomes[id(future)] = reply if isinstance(reply, Exception) else bool(reply)
                if reply and not isinstance(reply, Exception):
                    plan.report()
        return outcomes

    @contextlib.asynccontextmanager
    async def _watching(self) -> AsyncIterator[tuple[Pipeline, AbstractConnection]]:
        """A connection of the pool for one round, held by a redis-py pipeline as if it
        had sent the WATCH: leaving the block, the pipeline sends UNWATCH unless the
        round's EXEC ended the WATCH, and gives the connection back (disconnected, its
        replies dropped, if a step failed on the way: bulk_pipeline.py)."""
        async with self._redis.pipeline(transaction=True) as pipe:
            connection = await pipe.connection_pool.get_connection()  # type: ignore[no-untyped-call]
            pipe.connection, pipe.watching = connection, True
            try:
                yield pipe, connection
            finally:
                if not connection.is_connected:
                    pipe.watching = False  # a connection lost watches nothing

    @staticmethod
    async def _states(connection: AbstractConnection, batches: list[Batch]) -> list[list[Any]]:
        """WATCH of every batch's keys and each runner's reading of its state
        (batch_state.lua), in one write whose replies are read in bulk."""
        keys = [key for batch in batches for key in batch.runner.watched_keys()]
        reads = [batch.runner.state_read(batch.streams) for batch in batches]
        watched, *states = await bulk_pipeline.run(
            connection,
            [("WATCH", *keys), *(command for command, _ in reads)],
            _distinct(script for _, script in reads),
            BATCH_SECONDS,
        )
        for reply in (watched, *states):
            if isinstance(reply, Exception):
                raise reply
        assert all(isinstance(state, list) for state in states)
        return states  # type: ignore[return-value]

    @staticmethod
    async def _transact(
        pipe: Pipeline, connection: AbstractConnection, plans: Sequence[Plan]
    ) -> tuple[list[list[object]], bool]:
        """Every plan's commands in one MULTI/EXEC, on the connection that holds the
        WATCH, as one write whose replies are read in bulk: each plan's replies, and
        whether any command ran. EXEC (or the connection's loss) ends the WATCH."""
        stack = [command for plan in plans for command in plan.tx.pipe.stack]
        scripts = _distinct(script for plan in plans for script in plan.tx.pipe.scripts)
        ran = True
        try:
            replies = await bulk_pipeline.transaction(connection, stack, scripts, BATCH_SECONDS)
        except bulk_pipeline.NotRun as refused:
            replies, ran = refused.replies, False
        finally:
            pipe.watching = False
        parts, start = [], 0
        for plan in plans:
            end = start + len(plan.tx.pipe.stack)
            parts.append(replies[start:end])
            start = end
        return parts, ran

    @staticmethod
    async def _confirm(connection: AbstractConnection, plans: Sequence[Plan]) -> list[object]:
        """Every plan's confirmation (confirm_batch.lua), in one write: the checkpoints
        move and the notices go out only now that every reply was checked."""
        if not plans:
            return []
        commands = [plan.confirmation() for plan in plans]
        return await bulk_pipeline.run(
            connection,
            [command for command, _ in commands],
            _distinct(script for _, script in commands),
            BATCH_SECONDS,
        )


def _distinct(scripts: Any) -> list[AsyncScript]:
    """One of each script (by its digest): runners may each have registered their own."""
    return list({script.sha: script for script in scripts}.values())


def _settle(
    gathered: list[tuple[Batch, asyncio.Future[bool]]], outcomes: dict[int, Outcome]
) -> None:
    """Hands the followers their outcomes, by future id (none: not applied)."""
    for _, future in gathered:
        if future.done():  # cancelled while it waited
            continue
        outcome = outcomes.get(id(future), False)
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


def _result(outcome: Outcome) -> bool:
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome
