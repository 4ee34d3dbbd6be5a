"""What the rate limits do when their counts cannot be read (protection/throttle.py): they
let the request through. After a reply past its deadline (Redis frozen) they stop asking
for a while, so that each request does not wait out one deadline per limit; after a
wait for one of their connections that timed out (this process flooded with checks)
they ask again at once, so that a flood does not buy itself time without limits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from redis.asyncio import BlockingConnectionPool, ConnectionPool

from harness.redis_server import PrivateRedis
from protection.config import RateLimits
from protection.throttle import RateLimited, Throttle

LIMITS = replace(RateLimits(), bad_tokens="2/minute")


async def guesses(throttle: Throttle, count: int) -> list[bool]:
    """Whether each of `count` bad-token hits was refused."""
    refused = []
    for _ in range(count):
        try:
            await throttle.hit(throttle.bad_tokens, "guesser")
        except RateLimited:
            refused.append(True)
        else:
            refused.append(False)
    return refused


@pytest.fixture
async def frozen_pool(private_redis: PrivateRedis) -> AsyncIterator[ConnectionPool]:
    pool = ConnectionPool.from_url(private_redis.url, socket_timeout=0.5)
    yield pool
    await pool.aclose()


async def test_after_a_reply_past_its_deadline_the_counts_are_not_asked_for_a_while(
    frozen_pool: ConnectionPool, private_redis: PrivateRedis, prefix: str
) -> None:
    throttle = Throttle(frozen_pool, prefix, LIMITS)
    private_redis.freeze()
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await guesses(throttle, 1) == [False]  # waited out the deadline
        assert loop.time() - started >= 0.5
        started = loop.time()
        assert await guesses(throttle, 5) == [False] * 5
        assert loop.time() - started < 0.5  # not asked
    finally:
        private_redis.thaw()


async def test_a_wait_for_a_connection_that_timed_out_skips_no_counts(
    redis_url: str, prefix: str
) -> None:
    pool = BlockingConnectionPool.from_url(redis_url, max_connections=1, timeout=0.2)
    throttle = Throttle(pool, prefix, LIMITS)
    held = await pool.get_connection()  # type: ignore[no-untyped-call]
    try:
        assert await guesses(throttle, 1) == [False]  # no connection: let through
    finally:
        await pool.release(held)
    assert await guesses(throttle, 3) == [False, False, True]  # counted again at once
    await pool.aclose()


async def test_a_burst_of_bad_tokens_locks_the_address_before_redis_answers(
    redis_url: str, prefix: str
) -> None:
    """Sent at once, every token of a burst was checked before the first refusal came
    back from Redis, and a valid one among them was answered 200 (a re-check probe: the
    250th of 250 requests, sent together). The process counts failed tokens as they fail
    (protection/guessers.py)."""
    pool = ConnectionPool.from_url(redis_url)
    throttle = Throttle(pool, prefix, LIMITS)  # 2 a minute
    hits = [asyncio.ensure_future(throttle.hit(throttle.bad_tokens, "guesser")) for _ in range(3)]
    await asyncio.sleep(0)  # each ran up to its wait for Redis; none has an answer yet
    assert throttle.guessing("guesser") is not None
    assert throttle.guessing("elsewhere") is None
    await asyncio.gather(*hits, return_exceptions=True)
    await pool.aclose()
