"""hiredis-packed connections and a rebuild's batches write the bytes redis-py's own packer
writes, and the process's pools use such connections."""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool
from redis.asyncio.connection import Connection, SSLConnection

from observability.faults import CountingRetry
from projections.projectors.packed_redis import (
    PackedConnection,
    PackedUnixConnection,
    pack_in_c,
)
from projections.redisio import bulk_pipeline
from wiring.redis_clients import pool

COMMANDS = [
    ("ZADD", "k", 1796229288987989.0, "m", 0.1, 1e20, 3, "é", b"\x00x"),
    ("HSET", "post", "title", "Ünïcode ✓", "count", -1, "empty", ""),
    ("SCRIPT LOAD", "return 1"),
    ("EVALSHA", "abc", 2, "a", "b", 2**53, "x"),
]
SPLIT = [COMMANDS[0], COMMANDS[1], ("SCRIPT", "LOAD", "return 1"), COMMANDS[3]]  # as a batch


def test_the_same_bytes_as_redis_py() -> None:
    ours, theirs = PackedConnection(), Connection()
    for command in COMMANDS:
        assert b"".join(ours.pack_command(*command)) == b"".join(theirs.pack_command(*command))


def test_a_bulk_batch_is_the_same_bytes_as_redis_py() -> None:
    theirs = Connection()
    expected = b"".join(b"".join(theirs.pack_command(*command)) for command in COMMANDS)
    assert bulk_pipeline.packed(SPLIT) == expected


def test_pools_pack_in_c_where_the_connection_kind_allows() -> None:
    for url, packed in (
        ("redis://127.0.0.1:6379/0", PackedConnection),
        ("unix:///tmp/redis.sock", PackedUnixConnection),
    ):
        pool = BlockingConnectionPool.from_url(url)
        assert pack_in_c(pool) and pool.connection_class is packed
        assert pack_in_c(pool)  # a second call leaves it packed
    tls = BlockingConnectionPool.from_url("rediss://127.0.0.1:6379/0")
    assert not pack_in_c(tls) and tls.connection_class is SSLConnection


async def test_the_process_pools_pack_in_c(redis_url: str, prefix: str) -> None:
    """The clients a running Inkwell uses (wiring/redis_clients.py) pack with hiredis, over
    TCP (REDIS_URL) or the embedded Redis's unix socket (`make test` with no REDIS_URL)."""
    async with pool(redis_url, f"{prefix}:test", CountingRetry(lambda error: None)) as client:
        packed = (PackedConnection, PackedUnixConnection)
        assert isinstance(client.connection_pool.connection_class(), packed)
        await client.set(f"{prefix}:k", "é")
        assert await client.get(f"{prefix}:k") == "é"
        await client.delete(f"{prefix}:k")
