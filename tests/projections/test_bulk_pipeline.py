"""A rebuild's batch run in bulk (projections/redisio/bulk_pipeline.py): the same replies
as redis-py's pipeline, errors in their place and pinned on their events, scripts loaded
before they run, a connection that fails mid-batch never used again, and a batch left
unread waited for."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from redis.asyncio import ConnectionPool, Redis
from redis.exceptions import ConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from domain.events import UserRegistered
from domain.ports import RecordedEvent
from harness.redis_server import PrivateRedis
from observability.faults import CountingRetry
from projections.projectors.failures import failed_replies
from projections.redisio.bulk_pipeline import execute, pack, private_pool, sent
from tests.support.redis_replies import assert_as_redis_pys, commands
from wiring.redis_clients import pool as app_pool


@pytest.fixture
async def pool(redis: Redis) -> AsyncIterator[ConnectionPool]:
    pool = private_pool(redis)
    yield pool
    await pool.disconnect()


async def test_the_same_replies_as_redis_pys_pipeline(
    redis: Redis, pool: ConnectionPool, prefix: str
) -> None:
    await assert_as_redis_pys(await execute(pool, commands(prefix)), redis, prefix, False)


def recorded(position: int) -> RecordedEvent:
    at = datetime.now(UTC)
    event = UserRegistered(f"user-{position}", "Ann", None, "", at)
    return RecordedEvent(position, f"user-{position}", 1, event, "c", None, "c", at)


async def test_an_error_reply_names_the_event_that_queued_it(
    pool: ConnectionPool, prefix: str
) -> None:
    first, poison, last = recorded(1), recorded(2), recorded(3)
    replies = await execute(
        pool,
        [
            ("SET", f"{prefix}:k", "text"),
            ("HSET", f"{prefix}:h", "f", "v"),
            ("HINCRBY", f"{prefix}:k", "f", 1),  # WRONGTYPE
            ("ZADD", f"{prefix}:z", 1, "m"),
            ("GET", f"{prefix}:k"),
        ],
    )
    failure = failed_replies("posts", replies, [first, poison, poison, last, None])
    assert failure is not None
    assert failure.events == [poison]
    assert "WRONGTYPE" in failure.errors[0]
    assert replies[-1] == "text"  # the batch went on past the error


async def test_scripts_are_loaded_before_the_batch_calls_them(
    redis: Redis, pool: ConnectionPool, prefix: str
) -> None:
    script = redis.register_script(f"return '{prefix}'")  # a script Redis has never seen
    replies = await execute(pool, [("EVALSHA", script.sha, 0)], [script])
    assert replies == [prefix]


async def client_id(pool: ConnectionPool) -> int:
    (reply,) = await execute(pool, [("CLIENT", "ID")])
    assert isinstance(reply, int)
    return reply


async def test_a_connection_dropped_mid_batch_raises_and_is_not_reused(
    pool: ConnectionPool, prefix: str
) -> None:
    dropped = await client_id(pool)
    with pytest.raises(ConnectionError):
        await execute(
            pool,
            [
                ("SET", f"{prefix}:a", 1),
                ("CLIENT", "KILL", "ID", dropped, "SKIPME", "no"),  # Redis closes it here
                ("SET", f"{prefix}:b", 2),
            ],
        )
    assert await client_id(pool) != dropped
    assert await execute(pool, [("GET", f"{prefix}:a"), ("GET", f"{prefix}:b")]) == ["1", None]


async def test_a_connection_reset_mid_batch_is_a_connection_error(
    pool: ConnectionPool, prefix: str
) -> None:
    """Redis closing a connection with a batch's bytes still unread makes the kernel
    reset it, and the stream's read raised a bare ConnectionResetError: a query read in
    a Redis restart answered INTERNAL_SERVER_ERROR instead of UNAVAILABLE (an outside
    probe, 3 restarts in 11). The reset meets the batch's read, or its send while some
    of the 3 MB is still going out (a broken pipe): both are OSErrors made ConnectionError."""
    reset = await client_id(pool)
    unread = [("SET", f"{prefix}:{n}", "x" * 100) for n in range(20_000)]  # some 3 MB
    with pytest.raises(ConnectionError, match=r"Connection reset|Broken pipe"):
        await execute(pool, [("CLIENT", "KILL", "ID", reset, "SKIPME", "no"), *unread])
    assert await client_id(pool) != reset
    assert await execute(pool, [("ECHO", "mine")]) == ["mine"]


async def test_a_batch_that_times_out_leaves_no_reply_behind(
    pool: ConnectionPool, prefix: str
) -> None:
    stalled = await client_id(pool)
    with pytest.raises(RedisTimeoutError):
        await execute(pool, [("BLPOP", f"{prefix}:empty", 1)], timeout=0.1)
    # The BLPOP's late reply went with the connection: the next batch reads its own.
    assert await client_id(pool) != stalled
    assert await execute(pool, [("ECHO", "mine")]) == ["mine"]


async def test_a_batch_left_unread_is_waited_for(pool: ConnectionPool, prefix: str) -> None:
    used = await client_id(pool)
    with pytest.raises(RuntimeError):
        async with sent(pool, pack([("BLPOP", f"{prefix}:empty", 0.2), ("SET", f"{prefix}:k", 1)])):
            raise RuntimeError("the caller failed while Redis ran the batch")
    # The whole batch ran before the block was left, and its connection is in order.
    assert await execute(pool, [("GET", f"{prefix}:k")]) == ["1"]
    assert await client_id(pool) == used


async def test_a_connection_redis_closed_while_idle_is_replaced_before_a_batch(
    private_redis: PrivateRedis,
) -> None:
    """Redis's `timeout` closes a client idle that long. redis-py 8's pools handed such a
    connection out unchecked (projections/redisio/checked_pools.py), and the batch failed
    with "Redis closed the connection after 0 replies": the event notices of the first
    commit after every quiet spell were lost. A redis-py command on it failed once too,
    before its retry, counted as a Redis error."""
    with private_redis.client() as admin:
        admin.config_set("timeout", 1)
    errors: list[str] = []
    async with app_pool(
        private_redis.url, "test", CountingRetry(lambda error: errors.append(repr(error)))
    ) as redis:
        rebuilds = private_pool(redis)
        for pool in (redis.connection_pool, rebuilds):
            assert await execute(pool, [("PING",)]) == ["PONG"]
        assert await redis.ping()
        await asyncio.sleep(2.5)  # past the timeout: Redis has closed all three
        for pool in (redis.connection_pool, rebuilds):
            assert await execute(pool, [("PING",)]) == ["PONG"]
        assert await redis.ping()
        await rebuilds.aclose()
    assert errors == []
