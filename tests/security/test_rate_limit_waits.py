"""The wait a rate limit's refusal gives (`retryAfter`, `Retry-After`) is how long until the
refused hit fits: a client that waits that long gets through, and not before. Counted in
real Redis; time is moved by shortening the counters' TTLs, which is all the sliding
window counter reads of time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from redis.asyncio import ConnectionPool, Redis

from protection.config import RateLimits
from protection.throttle import RateLimited, Throttle, seconds_until_room

COST = 20_402  # `recentPosts(first: 100)` with 100 comments each: a costly page


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def throttle(redis_url: str, prefix: str) -> AsyncIterator[Throttle]:
    pool = ConnectionPool.from_url(redis_url)
    yield Throttle(pool, prefix, replace(RateLimits(), query_cost="100000/minute"))
    await pool.aclose()


async def pass_time(redis: Redis, prefix: str, seconds: float) -> None:
    async for key in redis.scan_iter(match=f"{prefix}*"):
        ttl = await redis.pttl(key)
        await redis.pexpire(key, max(1, ttl - int(seconds * 1000)))


async def refused_for(throttle: Throttle) -> int | None:
    try:
        await throttle.hit(throttle.query_cost, "client", cost=COST)
    except RateLimited as refused:
        return refused.retry_after
    return None


async def test_a_costly_client_told_to_wait_gets_through_after_that_wait(
    throttle: Throttle, redis: Redis, prefix: str
) -> None:
    """Told "1 s" after the window rolled over, a client that spent 81,608 of 100,000 a
    minute in costs of 20,402 was refused 15 times in a row (an outside probe): the
    library's reset time is when one unit frees, not when the hit's cost does."""
    for _ in range(4):
        assert await refused_for(throttle) is None
    await pass_time(redis, prefix, 61)  # into the next window: 81,608 weighs less each second
    wait = await refused_for(throttle)
    assert wait == 1
    await pass_time(redis, prefix, wait)
    assert await refused_for(throttle) is None  # 78,887 weighed, and 20,402 fit
    wait = await refused_for(throttle)
    assert wait is not None and wait == 15  # 14.5 s until 81,608 weighs 59,196 or less
    await pass_time(redis, prefix, wait - 1.5)
    assert await refused_for(throttle) is not None  # too early: refused again
    await pass_time(redis, prefix, 1.5)
    assert await refused_for(throttle) is None


def test_a_hit_larger_than_what_the_current_window_leaves_waits_for_its_end() -> None:
    # 81,608 in the current window, which ends in 60 s: then it weighs less each second.
    assert seconds_until_room(100_000, 60, COST, 0, 0.0, 81_608, 120.0) == pytest.approx(
        60 + 60 * (1 - 79_599 / 81_608)
    )
    assert seconds_until_room(100_000, 60, COST, 0, 0.0, 20_000, 90.0) == 0.0


async def test_a_hit_refused_by_one_count_is_given_back_to_the_others(throttle: Throttle) -> None:
    """A signed-in client is counted per address and per user: refused by its user's
    count, it had been charged to its address's, which then refused it on its own after
    the wait it was told (an outside probe: told 15 s, it waited 30)."""
    for _ in range(4):  # the user spends most of its budget from another address
        await throttle.hit_all(
            [(throttle.query_cost, "elsewhere"), (throttle.query_cost_per_token, "user")], COST
        )
    with pytest.raises(RateLimited, match="query cost for this token"):
        await throttle.hit_all(
            [(throttle.query_cost, "here"), (throttle.query_cost_per_token, "user")], COST
        )
    await throttle.hit(throttle.query_cost, "here", cost=100_000)  # nothing was kept here


async def test_what_is_given_back_never_takes_a_count_below_nothing(
    throttle: Throttle, redis: Redis, prefix: str
) -> None:
    """A write refused after its charge gets it back (schema/write_costs.py). Given back
    after Redis had lost the count, or for a charge skipped while the storage failed
    (fail open), it took the counts below zero: budget given away (a re-check probe:
    -8.9 MB of text bytes after a stall, -1.6 MB after a restart)."""
    rule = throttle.query_cost
    charged = await throttle.hit_all([(rule, "writer")], COST)
    assert len(charged) == 1
    for key in [key async for key in redis.scan_iter(match=f"{prefix}*")]:
        await redis.delete(key)  # as a Redis restarted empty
    await throttle.give_back(charged, COST)
    await throttle.hit(rule, "writer", cost=100_000)  # the whole budget, and no more
    with pytest.raises(RateLimited):
        await throttle.hit(rule, "writer", cost=1)

    stalled = Throttle(ConnectionPool.from_url("redis://127.0.0.1:1"), prefix, RateLimits())
    assert await stalled.hit_all([(rule, "other")], COST) == []  # let through uncharged
