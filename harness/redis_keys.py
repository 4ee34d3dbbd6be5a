"""Removing everything a test or a benchmark wrote to a shared Redis, and nothing else."""

from __future__ import annotations

import redis


def forget(redis_url: str, prefix: str) -> None:
    """Deletes every key under `prefix:`, a SCAN page at a time (never KEYS, never FLUSHDB:
    the Redis is shared with other tests and other people's work)."""
    client = redis.Redis.from_url(redis_url)
    try:
        cursor = 0
        while True:
            cursor, keys = client.scan(cursor, match=f"{prefix}:*", count=1000)
            if keys:
                client.unlink(*keys)
            if cursor == 0:
                return
    finally:
        client.close()
