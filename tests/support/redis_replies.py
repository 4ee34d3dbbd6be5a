"""One of each command the projections queue, and the check that a bulk batch answered them
as redis-py's own pipeline does: shared by the bulk pipeline's and the bulk transaction's
tests."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError


def commands(prefix: str) -> list[tuple[Any, ...]]:
    """One of each command the projections queue, and one that fails."""
    return [
        ("HSET", f"{prefix}:h", "name", "Ünïcode ✓", "count", 1),
        ("HINCRBY", f"{prefix}:h", "count", -3),
        ("HINCRBY", f"{prefix}:h", "name", 1),  # not an integer: an error reply
        ("HDEL", f"{prefix}:h", "name"),
        ("ZADD", f"{prefix}:z", 1796229288987989, "a", 2, "b"),
        ("ZREM", f"{prefix}:z", "a"),
        ("SADD", f"{prefix}:s", "x", "y"),
        ("SREM", f"{prefix}:s", "x"),
        ("DEL", f"{prefix}:s"),
        ("EVAL", "return {KEYS[1], ARGV[1], 7}", 1, f"{prefix}:k", "é"),
        ("GET", f"{prefix}:missing"),
    ]


async def assert_as_redis_pys(
    ours: list[object], redis: Redis, prefix: str, transaction: bool
) -> None:
    """`ours`, the replies to `commands(prefix)`, are those of redis-py's pipeline."""
    await redis.delete(f"{prefix}:h", f"{prefix}:z", f"{prefix}:s")
    async with redis.pipeline(transaction=transaction) as pipe:
        for command in commands(prefix):
            pipe.execute_command(*command)
        theirs = await pipe.execute(raise_on_error=False)
    assert [repr(reply) for reply in ours] == [repr(reply) for reply in theirs]
    assert isinstance(ours[2], ResponseError)
    assert ours[9] == [f"{prefix}:k", "é", 7]
