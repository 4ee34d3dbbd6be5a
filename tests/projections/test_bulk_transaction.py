"""A runner's batch as one MULTI/EXEC write read in bulk (bulk_pipeline.transaction): the
same replies as redis-py's transaction, nothing applied when a watched key changed, the
events of refused commands named whether Redis refused them as they were queued or as
they ran, and a connection that dies mid-batch never used again; one that lived goes
back watching nothing, with no reply left to read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import redis as sync_redis
from redis.asyncio import ConnectionPool, Redis
from redis.exceptions import ConnectionError, ResponseError, WatchError

from domain.events import UserRegistered
from domain.ports import RecordedEvent
from projections.projectors.failures import BatchFailed
from projections.projectors.projection import Projection
from projections.projectors.runner import ProjectionRunner
from projections.projectors.scripts import Scripts
from projections.projectors.tx import Tx
from projections.redisio.bulk_pipeline import NotRun, transaction
from tests.support.redis_replies import assert_as_redis_pys, commands
from wiring.bootstrap import Inkwell


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    """One connection, so that what a batch leaves on it is what the next one meets."""
    pool = ConnectionPool.from_url(redis_url, decode_responses=True, max_connections=1)
    client = Redis(connection_pool=pool)
    yield client
    await client.aclose()
    await pool.disconnect()


async def in_transaction(
    redis: Redis, watched: str, batch: list[tuple[object, ...]], other: Redis | None = None
) -> list[object]:
    """`batch` in bulk under WATCH of `watched`, which `other` (if any) changes between
    the WATCH and the batch."""
    async with redis.pipeline(transaction=True) as pipe:
        await pipe.watch(watched)
        if other is not None:
            await other.set(watched, "changed")
        assert pipe.connection is not None
        try:
            return await transaction(pipe.connection, batch)
        finally:
            pipe.watching = False


async def test_the_same_replies_as_redis_pys_transaction(redis: Redis, prefix: str) -> None:
    ours = await in_transaction(redis, f"{prefix}:w", commands(prefix))
    await assert_as_redis_pys(ours, redis, prefix, transaction=True)


async def test_a_watched_key_changed_applies_nothing(
    redis: Redis, redis_url: str, prefix: str
) -> None:
    other = Redis.from_url(redis_url, decode_responses=True)
    try:
        with pytest.raises(WatchError):
            await in_transaction(redis, f"{prefix}:w", [("SET", f"{prefix}:a", 1)], other)
    finally:
        await other.aclose()
    assert await redis.get(f"{prefix}:a") is None
    assert await redis.get(f"{prefix}:w") == "changed"


async def test_a_command_refused_as_queued_aborts_all_and_is_named(
    redis: Redis, prefix: str
) -> None:
    with pytest.raises(NotRun) as refused:
        await in_transaction(
            redis, f"{prefix}:w", [("SET", f"{prefix}:a", 1), ("HSET", f"{prefix}:h")]
        )
    replies = refused.value.replies
    assert replies[0] == "QUEUED" and isinstance(replies[1], ResponseError)
    assert await redis.get(f"{prefix}:a") is None


async def test_the_connection_goes_back_watching_nothing(redis: Redis, prefix: str) -> None:
    used = await redis.client_id()
    assert await in_transaction(redis, f"{prefix}:w", [("SET", f"{prefix}:a", 1)]) == ["OK"]
    await redis.set(f"{prefix}:w", "changed")  # would fail a MULTI still under WATCH
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(f"{prefix}:b", 2)
        assert await pipe.execute() == [True]
    assert await redis.client_id() == used  # the same connection, its replies in step


async def test_a_connection_killed_mid_batch_raises_and_is_not_reused(
    redis: Redis, prefix: str
) -> None:
    killed = await redis.client_id()
    with pytest.raises(ConnectionError):
        await in_transaction(
            redis,
            f"{prefix}:w",
            [
                ("SET", f"{prefix}:a", 1),
                ("CLIENT", "KILL", "ID", killed, "SKIPME", "no"),
                ("SET", f"{prefix}:b", 2),
            ],
        )
    assert await redis.client_id() != killed


def registered(position: int, name: str) -> RecordedEvent:
    at = datetime.now(UTC)
    event = UserRegistered(f"user-{position}", name, None, "", at)
    return RecordedEvent(position, f"user-{position}", 1, event, "c", None, "c", at)


class Picky:
    """A projection whose writes Redis refuses for some names: at queue time (a command
    of the wrong arity), as it runs (HINCRBY of text), or whose handler moves the
    checkpoint under the runner's WATCH (as a racing runner would)."""

    def __init__(self, redis_url: str, checkpoint: str) -> None:
        self._redis_url = redis_url
        self._checkpoint = checkpoint
        self.kill: int | None = None  # the client id a "killed" user's batch kills

    def on_user(self, event: UserRegistered, at: RecordedEvent, tx: Tx) -> None:
        key = f"{tx.keys.prefix}:picky:{event.user_id}"
        tx.pipe.hset(key, "name", event.name)
        if event.name == "refused":
            tx.pipe.stack.append(("HSET", key))
        if event.name == "failing":
            tx.pipe.hincrby(key, "name", 1)
        if event.name == "killed":
            tx.pipe.stack.append(("CLIENT", "KILL", "ID", self.kill or 0, "SKIPME", "no"))
        if event.name == "racing":
            with sync_redis.Redis.from_url(self._redis_url) as other:
                other.incr(self._checkpoint)

    def projection(self) -> Projection:
        return Projection("picky").on(UserRegistered, self.on_user)


@pytest.fixture
async def picky(inkwell: Inkwell, redis_url: str) -> AsyncIterator[ProjectionRunner]:
    projection = Picky(redis_url, inkwell.keys.checkpoint("picky")).projection()
    runner = ProjectionRunner(
        projection, inkwell.redis, inkwell.keys, Scripts.register(inkwell.redis), inkwell.store
    )
    await runner.catch_up()  # builds its space
    yield runner


async def picky_state(inkwell: Inkwell, users: list[RecordedEvent]) -> list[object]:
    space = await inkwell.redis.get(inkwell.keys.namespace("picky"))
    keys = inkwell.keys.with_space("picky", str(space))
    names = [
        await inkwell.redis.hget(f"{keys.prefix}:picky:user-{e.position}", "name") for e in users
    ]
    return [
        await inkwell.redis.get(inkwell.keys.checkpoint("picky")),
        await inkwell.redis.get(inkwell.keys.unconfirmed("picky")),
        names,
    ]


async def checkpoint(inkwell: Inkwell) -> int:
    return int(await inkwell.redis.get(inkwell.keys.checkpoint("picky")) or 0)


async def test_a_batch_applies_whole_and_is_confirmed(
    inkwell: Inkwell, picky: ProjectionRunner
) -> None:
    at = await checkpoint(inkwell)
    users = [registered(at + 1, "Ann"), registered(at + 2, "Bob")]
    assert await picky.apply(users, from_log=True, after=at)
    assert await picky_state(inkwell, users) == [str(at + 2), None, ["Ann", "Bob"]]
    assert await picky.apply(users, from_log=True, after=at + 2)  # applied once only


async def test_a_checkpoint_moved_under_the_watch_applies_nothing(
    inkwell: Inkwell, picky: ProjectionRunner
) -> None:
    at = await checkpoint(inkwell)
    users = [registered(at + 1, "Ann"), registered(at + 2, "racing")]
    assert not await picky.apply(users, from_log=True, after=at)
    assert await picky_state(inkwell, users) == [str(at + 1), None, [None, None]]


@pytest.mark.parametrize(
    ("name", "marker", "applied", "said"),
    [
        # Refused as it was queued: Redis answers EXEC with EXECABORT and runs nothing.
        ("refused", False, [None, None, None], "so none of it ran (EXECABORT)"),
        # Failed as it ran: the rest ran, but the checkpoint did not move, and the
        # marker has the space rebuilt.
        ("failing", True, ["Ann", "failing", "Cy"], "the rest ran"),
    ],
)
async def test_a_command_redis_refuses_names_its_event(
    inkwell: Inkwell,
    picky: ProjectionRunner,
    name: str,
    marker: bool,
    applied: list[object],
    said: str,
) -> None:
    """And says whether the rest of the batch ran: with Redis out of memory, "refused
    281 commands of the batch" read as half a batch written (an outside probe)."""
    at = await checkpoint(inkwell)
    users = [registered(at + 1, "Ann"), registered(at + 2, name), registered(at + 3, "Cy")]
    with pytest.raises(BatchFailed) as failed:
        await picky.apply(users, from_log=True, after=at)
    assert failed.value.events == [users[1]]
    assert f"refused 1 commands of the batch, {said} (events at {at + 2})" in str(failed.value)
    assert await picky_state(inkwell, users) == [str(at), str(at + 3) if marker else None, applied]


async def test_a_connection_killed_mid_batch_leaves_the_marker_and_is_not_reused(
    inkwell: Inkwell, redis_url: str
) -> None:
    """Its MULTI ran, the confirm did not: the marker has the space rebuilt."""
    one = ConnectionPool.from_url(redis_url, decode_responses=True, max_connections=1)
    redis = Redis(connection_pool=one)
    try:
        picky = Picky(redis_url, inkwell.keys.checkpoint("picky"))
        scripts = Scripts.register(redis)
        runner = ProjectionRunner(picky.projection(), redis, inkwell.keys, scripts, inkwell.store)
        await runner.catch_up()
        at = await checkpoint(inkwell)
        picky.kill = await redis.client_id()
        users = [registered(at + 1, "Ann"), registered(at + 2, "killed")]
        with pytest.raises(ConnectionError):
            await runner.apply(users, from_log=True, after=at)
        assert await picky_state(inkwell, users) == [str(at), str(at + 2), ["Ann", "killed"]]
        assert await redis.client_id() != picky.kill
    finally:
        await redis.aclose()
        await one.disconnect()
