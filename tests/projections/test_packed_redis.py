"""The rebuild's hiredis-packed client writes the bytes redis-py's own packer writes."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.connection import Connection

from projections.projectors.packed_redis import PackedConnection, packed_twin

COMMANDS = [
    ("ZADD", "k", 1796229288987989.0, "m", 0.1, 1e20, 3, "é", b"\x00x"),
    ("HSET", "post", "title", "Ünïcode ✓", "count", -1, "empty", ""),
    ("SCRIPT LOAD", "return 1"),
    ("EVALSHA", "abc", 2, "a", "b", 2**53, "x"),
]


def test_the_same_bytes_as_redis_py() -> None:
    ours, theirs = PackedConnection(), Connection()
    for command in COMMANDS:
        assert b"".join(ours.pack_command(*command)) == b"".join(theirs.pack_command(*command))


async def test_a_twin_talks_to_the_same_server(redis_url: str, prefix: str) -> None:
    redis = Redis.from_url(redis_url, decode_responses=True)
    twin = packed_twin(redis)
    assert twin is not None
    try:
        await twin.hset(f"{prefix}:h", mapping={"a": "é", "b": 2})
        assert await redis.hgetall(f"{prefix}:h") == {"a": "é", "b": "2"}
    finally:
        await twin.connection_pool.disconnect()
        await redis.aclose()
